"""OneRoster CSV bundle benchmark: 1,000,000 users in a zip, read by Python's csv module alone (the floor),
then validated, validated and read into PersonRecords from the zip (connectors.csvbundle; what a run does when no
records were kept for its settings), previewed and imported for real.

Targets (issue 16): validated and previewed within 2x the floor, first import within 3x, peak RSS under 500 MB.
"preview" and "first import" are what the portal does with a received bundle: jobs.bundles.accept_bundle
(store + validate, which reads the school's records once and keeps them beside the bundle), then a preview run
or a sync run of jobs.sync.run_sync (load the kept records, plan, and record the change log or apply it) into an
empty school on PostgreSQL (BENCH_DATABASE_URL, database bench_csv, created if
missing; --skip-db leaves them out). Each measurement runs in a fresh process so its peak RSS is its own; the
ratios are of this process's CPU seconds (the database server's own work shows only in the wall seconds).
By default students come before the parents they name (the order that makes the reader defer them to a temporary
file), the harder case; --parents-first measures the other.
Run: .venv/bin/python benchmarks/csv_bench.py [--users 1000000] [--repeat 3] [--skip-db] [--keep DIR]
"""
import argparse
import csv
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

RATIO_TARGET, IMPORT_TARGET, RSS_LIMIT_MB = 2.0, 3.0, 500
PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/bench_csv")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")  # its own db: others bench on 10
USERS_11 = ("sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,"
            "familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password").split(",")


def _student(i: int) -> list:
    return [f"stu-{i:07d}", "", "2026-01-05T08:00:00Z", "true", "s0", "student", f"stu{i}", "", f"Given{i}",
            f"Family{i}", "", f"{100000 + i}", f"stu{i}@bench.example.org", "", "", f"par-{i // 2:07d}",
            f"{(i % 12) + 1:02d}", ""]


def _parent(i: int) -> list:
    return [f"par-{i:07d}", "", "", "true", "s0", "guardian", "", "", f"Pat{i}", f"Family{i}", "", "",
            f"par{i}@home.example.org", "", f"+1 555 {i:07d}", f"stu-{2 * i:07d}", "", ""]


def generate(path: str, users: int, parents_first: bool = False) -> dict:
    """manifest, 20 schools and `users` people of school s0: 60% students, 30% parents, 10% teachers and staff."""
    students, parents = users * 6 // 10, users * 3 // 10
    staff = users - students - parents
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        zf.writestr("manifest.csv", "propertyName,value\nmanifest.version,1.0\noneroster.version,1.1\n"
                    "file.orgs,bulk\nfile.users,bulk\n")
        with zf.open("orgs.csv", "w") as raw, io.TextIOWrapper(raw, "utf-8", newline="") as out:
            w = csv.writer(out)
            w.writerow(["sourcedId", "status", "dateLastModified", "name", "type", "identifier", "parentSourcedId"])
            w.writerow(["d1", "", "", "Bench District", "district", "", ""])
            for s in range(20):
                w.writerow([f"s{s}", "", "", f"Bench School {s}", "school", f"{900 + s}", "d1"])
        with zf.open("users.csv", "w", force_zip64=True) as raw, io.TextIOWrapper(raw, "utf-8", newline="") as out:
            w = csv.writer(out)
            w.writerow(USERS_11)
            groups = [(students, _student), (parents, _parent)]
            for count, row in (groups[::-1] if parents_first else groups):
                w.writerows(row(i) for i in range(count))
            for i in range(staff):
                w.writerow([f"stf-{i:07d}", "", "", "true", "s0", "teacher" if i % 4 else "aide",
                            f"stf{i}", "", f"Sam{i}", f"Staff{i}", "", f"T{i}", f"stf{i}@bench.example.org",
                            "", "", "", "", ""])
    return {"users": users, "students": students, "parents": parents, "staff": staff, "parents_first": parents_first,
            "zip_mb": round(os.path.getsize(path) / 1e6, 1)}


# ---- measured in a fresh process -------------------------------------------------------------------
def measure_floor(path: str) -> dict:
    rows = 0
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            with zf.open(name) as raw:
                for _ in csv.reader(io.TextIOWrapper(raw, "utf-8", newline="")):
                    rows += 1
    return {"rows": rows}


def measure_validate(path: str) -> dict:
    from connectors.csvbundle import open_bundle
    with open_bundle(path) as bundle:
        report = bundle.validate()
    return {"applicable": report.applicable, "problems": len(report.all())}


def measure_read(path: str) -> dict:
    from connectors.csvbundle import open_bundle
    from connectors.records import ROLES
    records = 0
    with open_bundle(path) as bundle:
        for page in bundle.iter_roster("s0", set(ROLES)):
            records += len(page)
        applicable = bundle.report.applicable
    return {"records": records, "applicable": applicable}


def _school_app():
    """A fresh schema with one school on the CSV method, every role and parent contact on (outside the timer)."""
    from portal import create_app
    from portal.schema import rebuild_schema
    from store.db import db
    from store.models import District, RosterConnection, School
    app = create_app({"SQLALCHEMY_DATABASE_URI": PG_URL, "REDIS_URL": REDIS_URL, "PORTAL_ENV": "test",
                      "PORTAL_FERNET_KEYS": "kR3aAqf0Zp9dlk5P5b1jmxz7vKAn6UqS3dC0w3xPfl8=",
                      "BUNDLE_DIR": tempfile.mkdtemp(prefix="csv-bench-"), "MAIL_SUPPRESS_SEND": True})
    context = app.app_context()
    context.push()
    rebuild_schema()
    school = School(district=District(name="Bench District"), name="Bench High", slug="bench-high")
    db.session.add(school)
    db.session.flush()
    db.session.add(RosterConnection(school_id=school.id, method="oneroster_csv", vendor="oneroster", sis_school_id="s0",
                                    sync_parents=True, auto_update=True, archive=True, csv_sync_on_receipt="nightly"))
    db.session.commit()
    return app, school.id


def _receive_and_run(path: str, trigger: str) -> dict:
    import shutil
    from jobs.bundles import accept_bundle
    from jobs.runs import create_run
    from jobs.sync import run_sync
    from store.db import db
    from store.models import School, SyncRun
    _, school_id = _school_app()
    copy = path + f".{trigger}.zip"
    shutil.copyfile(path, copy)
    started, cpu = time.perf_counter(), time.process_time()
    bundle = accept_bundle(school_id, copy, via="cli", filename="bench.zip", sync=False)
    valid = bundle.status == "valid"
    run = create_run(db.session.get(School, school_id), trigger=trigger, bundle_id=bundle.id)
    run_sync(run.id)
    db.session.expire_all()
    run = db.session.get(SyncRun, run.id)
    return {"applicable": valid and run.status == "succeeded", "status": run.status,
            "created": run.created, "error": run.error_message[:300], "timed": (time.perf_counter() - started,
                                                                                  time.process_time() - cpu)}


def measure_preview(path: str) -> dict:
    return _receive_and_run(path, "preview")


def measure_import(path: str) -> dict:
    return _receive_and_run(path, "cli")


def postgres_ready() -> str | None:
    """None when the bench database is usable (created if missing), else why not."""
    try:
        import psycopg
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3) as conn:
            name = PG_URL.rsplit("/", 1)[-1].split("?")[0]  # the database BENCH_DATABASE_URL names
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                conn.execute(f'CREATE DATABASE "{name}"')
    except Exception as exc:  # noqa: BLE001 - any failure means: skip the database figures with a message
        return f"{type(exc).__name__}: {exc}".strip()
    return None


def child(kind: str, path: str) -> None:
    started, cpu = time.perf_counter(), time.process_time()
    result = globals()[f"measure_{kind}"](path)
    if "timed" in result:  # set-up (a fresh schema) is left out of the figure
        wall, used = result.pop("timed")
        started, cpu = time.perf_counter() - wall, time.process_time() - used
    result["seconds"] = round(time.perf_counter() - started, 2)
    result["cpu"] = round(time.process_time() - cpu, 2)
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(result))


def run(kind: str, path: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", kind, path], check=True, capture_output=True,
                         text=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--parents-first", action="store_true",
                        help="write parents before the students naming them (no student is deferred)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement; the best counts")
    parser.add_argument("--keep", help="write the bundle here and keep it (default: a temporary directory)")
    parser.add_argument("--skip-db", action="store_true", help="leave out preview and first import (no database)")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(args.keep or tmp, "bundle.zip")
        started = time.perf_counter()
        info = generate(path, args.users, args.parents_first)
        print(f"bundle: {info['users']:,} users ({info['students']:,} students, {info['parents']:,} parents "
              f"{'before' if info['parents_first'] else 'after'} them, {info['staff']:,} staff), zip {info['zip_mb']} MB, written in "
              f"{time.perf_counter() - started:.1f} s")
        # The machine may be shared: each figure is the best of --repeat runs, taken in turns, and the ratio is
        # of CPU seconds (wall seconds are printed too).
        runs: dict[str, list[dict]] = {"floor": [], "validate": [], "read": []}
        why_not = "skipped (--skip-db)" if args.skip_db else postgres_ready()
        if why_not is None:
            runs.update(preview=[], import_=[])
        else:
            print(f"preview and first import not measured: {why_not}")
        for _ in range(args.repeat):
            for kind in runs:
                runs[kind].append(run(kind.rstrip("_"), path))
        best = {kind: min(got, key=lambda r: r["cpu"]) for kind, got in runs.items()}
        rss = {kind: max(r["peak_rss_mb"] for r in got) for kind, got in runs.items()}
        floor = best["floor"]
        print(f"csv module alone (floor): {floor['cpu']:.2f} s CPU ({floor['seconds']:.2f} s wall), "
              f"{floor['rows']:,} rows, peak RSS {rss['floor']} MB")
        failed = False
        for kind, label, target in (("validate", "validate only", RATIO_TARGET),
                                    ("read", "validate + read records", RATIO_TARGET),
                                    ("preview", "validate + preview (run, change log)", RATIO_TARGET),
                                    ("import_", "validate + first import (run, apply)", IMPORT_TARGET)):
            if kind not in best:
                continue
            got = best[kind]
            ratio = got["cpu"] / floor["cpu"]
            ok = ratio <= target and rss[kind] < RSS_LIMIT_MB and got["applicable"]
            failed |= not ok
            extra = f", {got['records']:,} records" if "records" in got else ""
            if "created" in got:
                extra = f", {got['created']:,} people {'would be ' if kind == 'preview' else ''}created"
                extra += f", {got['seconds'] / floor['seconds']:.2f}x in wall seconds"
                if got["status"] != "succeeded":
                    extra += f", run {got['status']}: {got['error']}"
            print(f"{label}: {got['cpu']:.2f} s CPU ({got['seconds']:.2f} s wall) = {ratio:.2f}x the floor "
                  f"(target <= {target}x), peak RSS {rss[kind]} MB (target < {RSS_LIMIT_MB} MB){extra}, "
                  f"applicable={got['applicable']} {'ok' if ok else 'MISSED'}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
