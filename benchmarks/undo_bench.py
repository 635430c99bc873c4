"""Undo benchmark: recovery must be as fast as the damage.

One school of ~12,000 rostered people against the sandbox SIS on PostgreSQL. A sync renames everyone (damage 1)
and is undone; a sync archives 90% of the school (damage 2) and is undone. Prints and writes
test-artifacts/undo_bench.json: each damaging sync's time (fetch + plan + apply) against its undo's (plan + apply).
Run: .venv/bin/python benchmarks/undo_bench.py [--students 12000]
"""
import argparse
import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/bench_history")
REDIS_URL = os.environ.setdefault("BENCH_REDIS_URL", "redis://127.0.0.1:6379/8")  # sync_bench reads it too


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--students", type=int, default=12_000)
    args = parser.parse_args(argv)
    from connectors.sandbox import start_sandbox
    from jobs.runs import create_run
    from jobs.sync import run_sync
    from jobs.undo import plan_undo, undo_sync
    from benchmarks.sync_bench import worker_setup
    from portal import create_app
    from store.db import db
    from store.models import Person, School, SyncRun
    from tests.support import app_config, ensure_database

    ensure_database(DATABASE_URL)
    app = create_app(app_config(SQLALCHEMY_DATABASE_URI=DATABASE_URL, REDIS_URL=REDIS_URL, TESTING=False))
    box = start_sandbox("oneroster", schools=1, students=args.students, seed=5, page_cap=1000)
    results = {"students": args.students}
    try:
        worker_setup(DATABASE_URL, box.info)  # the sync benchmark's school: Auto update and Archive on
        with app.app_context():
            school = db.session.scalar(db.select(School).filter_by(slug="bench-high"))

            def timed_sync(label):
                run = create_run(school, trigger="cli", threshold_override=100)
                started = time.perf_counter()
                run_sync(run.id)
                seconds = time.perf_counter() - started
                db.session.expire_all()
                run = db.session.get(SyncRun, run.id)
                assert run.status == "succeeded", run.error_message
                print(f"{label}: {seconds:.2f} s (created {run.created:,}, updated {run.updated:,}, "
                      f"archived {run.archived:,})", flush=True)
                return run, seconds

            def timed_undo(run, label):
                started = time.perf_counter()
                plan = plan_undo(run)
                preview = time.perf_counter() - started
                started = time.perf_counter()
                undo = undo_sync(run.id, None, confirmed=True)
                seconds = time.perf_counter() - started
                print(f"{label}: preview {preview:.2f} s, undo {seconds:.2f} s (put back {undo.updated:,}, "
                      f"archived {undo.archived:,}, left {undo.issues:,}; planned {len(plan.log):,} changes)",
                      flush=True)
                return undo, preview, seconds

            first, first_s = timed_sync("first sync")
            results["first_sync"] = {"seconds": round(first_s, 2), "created": first.created}
            box.mutate(change_fraction=1.0, seed=1)
            renamed, renamed_s = timed_sync("sync renaming everyone")
            undo, preview_s, undo_s = timed_undo(renamed, "undo of the renames")
            results["renames"] = {"sync_seconds": round(renamed_s, 2), "updated": renamed.updated,
                                  "preview_seconds": round(preview_s, 2), "undo_seconds": round(undo_s, 2),
                                  "put_back": undo.updated}
            box.mutate(remove_fraction=0.9, seed=2, remove_mode="drop")
            archived, archived_s = timed_sync("sync archiving 90%")
            undo, preview_s, undo_s = timed_undo(archived, "undo of the archive")
            active = db.session.scalar(db.select(db.func.count(Person.id)).where(
                Person.school_id == school.id, Person.status == "active"))
            results["archives"] = {"sync_seconds": round(archived_s, 2), "archived": archived.archived,
                                   "preview_seconds": round(preview_s, 2), "undo_seconds": round(undo_s, 2),
                                   "restored": undo.updated, "active_after_undo": active}
    finally:
        box.stop()
    os.makedirs(os.path.join(ROOT, "test-artifacts"), exist_ok=True)
    with open(os.path.join(ROOT, "test-artifacts", "undo_bench.json"), "w") as out:
        json.dump(results, out, indent=2)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
