"""`make load`: 50 signed-in owners on People Manager and the progress partial while a 100,000-person sync runs.

Builds everything itself on PostgreSQL `test_load` and Redis db 10: schema, school, owners, a sandbox SIS,
a first sync so People has data, then gunicorn and one `python -m portal.worker sync`. It changes the roster and times a
Sync now with nobody on the site (the baseline), changes it again, signs the users in, presses Sync now and
drives benchmarks/locustfile.py headless until that sync ends. Prints p50/p95/p99 per request and both
syncs, writes test-artifacts/load.json, and exits 1 if a sync did not succeed or over 1% of requests failed.
Run: .venv/bin/python benchmarks/load_test.py [--users 50] [--people 100000] [--duration 600]
"""
import argparse
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

DATABASE_URL = os.environ.get("LOAD_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test_load")
REDIS_URL = os.environ.get("LOAD_REDIS_URL", "redis://127.0.0.1:6379/10")
ARTIFACTS = os.path.join(ROOT, "test-artifacts")
BIN = os.path.dirname(sys.executable)
SLUG = "load-high"
EMAIL = "owner{n}@load.example.org"
PASSWORD = "load-test-Passw0rd"
MAX_ERROR_RATE = 0.01
RUN_FILE = os.path.join(ARTIFACTS, "load-run-id")
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
# The sandbox adds a teacher per 25 students, a staff member per 150 and one admin.
PEOPLE_PER_STUDENT = 1 + 1 / 25 + 1 / 150


class Children:
    """Every process this script starts, each in its own process group, stopped in reverse order."""

    def __init__(self):
        self.procs: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, argv: list[str], env: dict, **popen) -> subprocess.Popen:
        if "stdout" not in popen:
            log = open(os.path.join(ARTIFACTS, f"load-{name}.log"), "w", encoding="utf-8")
            popen.update(stdout=log, stderr=subprocess.STDOUT)
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, start_new_session=True, **popen)
        self.procs.append((name, proc))
        return proc

    def stop_all(self) -> None:
        for name, proc in reversed(self.procs):
            if proc.poll() is not None:
                continue
            os.killpg(proc.pid, signal.SIGTERM)  # the group: gunicorn's workers, rq's work horse
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                print(f"{name} ignored SIGTERM; killing it", file=sys.stderr)
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)


def child_env(users: int) -> dict:
    """One environment for this script, gunicorn, the worker and the CLI: own database, Redis db and keys."""
    from cryptography.fernet import Fernet
    return {**os.environ, "DATABASE_URL": DATABASE_URL, "REDIS_URL": REDIS_URL,
            "PORTAL_ENV": "development",  # not production: the sandbox SIS on 127.0.0.1 is allowed
            "SECRET_KEY": secrets.token_hex(32), "PORTAL_FERNET_KEYS": Fernet.generate_key().decode(),
            # every simulated user signs in from 127.0.0.1 within the same minute
            "SIGNIN_PER_ADDRESS_PER_MINUTE": str(users * 2 + 20), "PYTHONUNBUFFERED": "1"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_sandbox(children: Children, env: dict, people: int) -> dict:
    """The sandbox SIS in its own process (as in sync_bench.py), so its CPU is not this script's."""
    students = round(people / PEOPLE_PER_STUDENT)
    proc = children.start("sandbox", [sys.executable, "-m", "connectors.sandbox", "--vendor", "oneroster",
                                      "--port", "0", "--schools", "1", "--students", str(students),
                                      "--seed", "1"], env, stdout=subprocess.PIPE, text=True)
    return json.loads(proc.stdout.readline())


def set_up_school(info: dict, users: int) -> None:
    """Empty schema, one district and school, `users` owners, and the school connected to the sandbox."""
    from connectors.sandbox import oneroster_form_values
    from portal import create_app
    from portal.cli.accounts import create_district, create_school, create_user
    from portal.rostering import service
    from portal.schema import rebuild_schema
    app = create_app()
    with app.app_context():
        rebuild_schema()
        app.redis.flushdb()  # db 10 is ours: no stale locks, queued jobs or sign-in counters
        district = create_district("Load District", "America/Chicago")
        school = create_school(district.name, "Load High School", SLUG)
        for n in range(users):
            create_user(EMAIL.format(n=n), PASSWORD, "owner", SLUG, None, "Load", f"Owner {n}")
        conn = service.save_connection(school, "oneroster", oneroster_form_values(info), actor=None)
        service.save_sync_settings(conn, sync_students=True, sync_teachers=True, sync_staff=True,
                                   sync_admins=True, sync_parents=False, auto_update=True, archive=True,
                                   automatic=False, sync_time="02:00", archive_threshold_percent=10.0)


def cli_sync(env: dict) -> dict:
    """One sync through `flask roster sync --json`, inline in a fresh process (no web load)."""
    out = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "roster", "sync", "--school", SLUG,
                          "--json"], cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    lines = out.stdout.strip().splitlines()
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"flask roster sync failed:\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}")
    return json.loads(lines[-1])


def analyze_directory() -> None:
    """VACUUM ANALYZE after seeding: this machine's PostgreSQL runs with autovacuum off, and without
    statistics the planner guesses ~30 people per school and sorts the whole school on disk per page."""
    import psycopg
    with psycopg.connect(DATABASE_URL.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def mutate_roster(info: dict, change: float, remove: float, seed: int) -> dict:
    """Rename `change` of the roster and remove `remove` of it, so the measured sync does real work."""
    body = json.dumps({"action": "mutate", "change_fraction": change, "remove_fraction": remove,
                       "seed": seed}).encode()
    request = urllib.request.Request(info["admin_url"], data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as reply:
        result = json.loads(reply.read())
    return {key: len(value) for key, value in result.items()}


def wait_for_http(url: str, proc: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url} never answered: the process exited {proc.returncode}")
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {seconds:.0f}s")


def start_web(children: Children, env: dict, workers: int, threads: int) -> str:
    port = free_port()
    proc = children.start("web", [sys.executable, "-m", "gunicorn", "wsgi:app", "--workers", str(workers),
                                  "--threads", str(threads), "--bind", f"127.0.0.1:{port}",
                                  "--timeout", "120", "--no-control-socket",
                                  # longer than a user's 3 s between People requests: no close-while-sending race
                                  "--keep-alive", "5"], env)
    base = f"http://127.0.0.1:{port}"
    wait_for_http(base + "/login", proc)
    return base


def start_worker(children: Children, env: dict) -> None:
    children.start("worker", [os.path.join(BIN, "python"), "-m", "portal.worker", "sync",
                              "--name", f"load-{os.getpid()}"], env)


def signed_in(base: str, email: str) -> requests.Session:
    session = requests.Session()
    token = CSRF_RE.search(session.get(base + "/login", timeout=30).text).group(1)
    reply = session.post(base + "/login", data={"csrf_token": token, "email": email, "password": PASSWORD},
                         allow_redirects=False, timeout=30)
    if reply.status_code != 302:
        raise RuntimeError(f"{email} could not sign in ({reply.status_code})")
    return session


def press_sync_now(base: str) -> int:
    """Sync now as an owner would (htmx POST from the Rostering page); the fragment names the run."""
    session = signed_in(base, EMAIL.format(n=0))
    page = session.get(f"{base}/schools/{SLUG}/rostering", timeout=30).text
    reply = session.post(f"{base}/schools/{SLUG}/rostering/runs", timeout=30,
                         data={"csrf_token": CSRF_RE.search(page).group(1), "trigger": "manual"},
                         headers={"HX-Request": "true", "HX-Target": "run-progress"})
    found = re.search(r"/runs/(\d+)/progress", reply.text)
    if reply.status_code != 200 or not found:
        raise RuntimeError(f"Sync now answered {reply.status_code}: {reply.text[:500]}")
    return int(found.group(1))


def start_locust(children: Children, env: dict, base: str, args, warmup: float) -> subprocess.Popen:
    """Users sign in and browse People now; they poll the run once RUN_FILE names it."""
    if os.path.exists(RUN_FILE):
        os.remove(RUN_FILE)
    load_env = {**env, "LOAD_SLUG": SLUG, "LOAD_RUN_FILE": RUN_FILE, "LOAD_EMAIL": EMAIL,
                "LOAD_PASSWORD": PASSWORD, "LOAD_PAGES": str(max(1, args.people // 50)),
                "LOAD_STATS_PATH": os.path.join(ARTIFACTS, "load-locust.json")}
    return children.start("locust", [os.path.join(BIN, "locust"), "-f", os.path.join(ROOT, "benchmarks",
                                     "locustfile.py"), "--headless", "--users", str(args.users),
                                     "--spawn-rate", str(args.spawn_rate), "--run-time", f"{args.duration + warmup:.0f}s",
                                     "--host", base, "--stop-timeout", "5", "--only-summary",
                                     "--exit-code-on-error", "0"], load_env)


def warm_up(locust: subprocess.Popen, seconds: float) -> None:
    """Give every user time to sign in, so the whole sync runs under the full load."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if locust.poll() is not None:
            raise RuntimeError(f"locust exited {locust.returncode} during warm-up; see test-artifacts/load-locust.log")
        time.sleep(0.5)


def announce_run(run_id: int) -> None:
    with open(RUN_FILE + ".tmp", "w", encoding="utf-8") as run_file:
        run_file.write(str(run_id))
    os.replace(RUN_FILE + ".tmp", RUN_FILE)  # users never read half a file


def wait_for_run(run_id: int, locust: subprocess.Popen | None, cap: float) -> dict:
    """Poll the run row until it is final, the cap passes, or locust stops on its own (its --run-time)."""
    from portal import create_app
    from store.db import db
    from store.models import SyncRun
    app, deadline = create_app(), time.monotonic() + cap
    with app.app_context():
        while True:
            run = db.session.get(SyncRun, run_id)
            if run.is_final or time.monotonic() > deadline or (locust and locust.poll() is not None):
                queued = (run.started_at - run.created_at).total_seconds() if run.started_at else None
                result = {"run_id": run_id, "status": run.status, "seconds": run.duration_seconds,
                          "queued_seconds": queued, "error": run.error_message, **run.counts()}
                db.session.remove()
                return result
            db.session.remove()  # no transaction left open while the sync writes
            time.sleep(0.5)


def timed_sync(base: str, cap: float, locust: subprocess.Popen | None = None) -> dict:
    """Press Sync now and wait for the final status; with locust running, its users start polling the run."""
    run_id = press_sync_now(base)
    started = time.perf_counter()
    if locust:
        announce_run(run_id)
        print(f"Sync now: run {run_id}; measuring until it ends (cap {cap:.0f}s)", flush=True)
    result = wait_for_run(run_id, locust, cap)
    return {**result, "seconds_to_final": time.perf_counter() - started}


def stop_locust(locust: subprocess.Popen) -> dict:
    """SIGTERM makes locust fire `quitting`, where the locustfile writes its figures."""
    if locust.poll() is None:
        locust.send_signal(signal.SIGTERM)
        locust.wait(60)
    with open(os.path.join(ARTIFACTS, "load-locust.json"), encoding="utf-8") as stats:
        return json.load(stats)


def print_report(result: dict) -> None:
    print(f"\n{'request':<34} {'count':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'max ms':>7} "
          f"{'errors':>6} {'error %':>7}")
    for row in (r for r in result["requests"] if r["count"]):
        rate = 100 * row["failures"] / row["count"] if row["count"] else 0.0
        print(f"{row['name']:<34} {row['count']:>7,} {row['p50_ms'] or 0:>7.0f} {row['p95_ms'] or 0:>7.0f} "
              f"{row['p99_ms'] or 0:>7.0f} {row['max_ms']:>7,} {row['failures']:>6} {rate:>6.2f}%")
    for error in result["errors"][:10]:
        print(f"  error ×{error['occurrences']}: {error['name']}: {error['error'][:150]}")
    print(f"\n{'sync':<22} {'status':<10} {'to final':>8} {'recorded':>8}  counts")
    for label, key in (("baseline (no users)", "baseline_sync"), ("measured (under load)", "sync")):
        run = result.get(key)
        if run:
            counts = ", ".join(f"{k} {run[k]:,}" for k in ("fetched", "updated", "unchanged", "archived", "issues"))
            print(f"{label:<22} {run['status']:<10} {run['seconds_to_final']:>7.1f}s {run['seconds'] or 0:>7.1f}s"
                  f"  {counts}")
    print("(to final: Sync now until the run's final status, queue included; recorded: the run's own "
          "started_at to finished_at, the apply included.)")
    print(f"sandbox records changed before the measured sync (parents included): {result['mutation']}")
    config = result["config"]
    print(f"load average (1 min) at start {result['loadavg'][0]:.1f}, at end {result['loadavg'][1]:.1f} "
          f"on {os.cpu_count()} CPUs")
    print(f"(requests from Sync now to the run's end, {result['measured_seconds']:.0f}s; sign-in and warm-up "
          f"excluded. Percentiles are locust's, rounded to 2 significant digits. {config['users']} users, "
          f"gunicorn {config['workers']}×{config['threads']}, whole script {result['wall_seconds']:.0f}s.)")


def verdict(result: dict) -> list[str]:
    total = next(r for r in result["requests"] if r["name"] == "all requests")
    rate = total["failures"] / total["count"] if total["count"] else 1.0
    result["error_rate"] = rate
    problems = []
    for key in ("baseline_sync", "sync"):
        run = result.get(key)
        if run and run["status"] != "succeeded":
            problems.append(f"the {key.replace('_', ' ')} ended {run['status']} {run['error']}".strip())
    if rate > MAX_ERROR_RATE:
        problems.append(f"{rate:.2%} of requests failed (limit {MAX_ERROR_RATE:.0%})")
    return problems


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=50, help="simulated owners, each with its own session")
    parser.add_argument("--people", type=int, default=100_000, help="people in the school's roster")
    parser.add_argument("--spawn-rate", type=float, default=10, help="users started per second")
    parser.add_argument("--duration", type=int, default=600, help="cap in seconds on the loaded phase")
    parser.add_argument("--change", type=float, default=0.5, help="fraction renamed before the measured sync")
    parser.add_argument("--remove", type=float, default=0.02, help="fraction removed (stay under the 10%% guard)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--skip-baseline", action="store_true", help="skip the same kind of sync without load")
    return parser.parse_args()


def run(args, children: Children, env: dict) -> dict:
    info = start_sandbox(children, env, args.people)
    print(f"sandbox SIS: {args.people:,} people at {info['base_url']}", flush=True)
    set_up_school(info, args.users)
    print(f"schema rebuilt on {DATABASE_URL.rsplit('/', 1)[-1]}; {args.users} owners of /schools/{SLUG}", flush=True)
    result = {"seed_sync": cli_sync(env), "baseline_sync": None}
    analyze_directory()
    print(f"seed sync: {result['seed_sync']['created']:,} people created", flush=True)
    base = start_web(children, env, args.workers, args.threads)
    start_worker(children, env)
    if not args.skip_baseline:  # the same kind of sync, same path, nobody on the site
        mutate_roster(info, args.change, args.remove, seed=1)
        result["baseline_sync"] = timed_sync(base, args.duration)
        analyze_directory()
        print(f"baseline sync without load: {result['baseline_sync']['seconds_to_final']:.1f}s", flush=True)
    result["mutation"] = mutate_roster(info, args.change, args.remove, seed=2)
    warmup = args.users / args.spawn_rate + 10
    locust = start_locust(children, env, base, args, warmup)
    print(f"{args.users} users signing in to {base}; Sync now in {warmup:.0f}s", flush=True)
    warm_up(locust, warmup)
    result["sync"] = timed_sync(base, args.duration, locust)
    result["measured_seconds"] = result["sync"]["seconds_to_final"]
    result.update(stop_locust(locust))
    return result


def main() -> int:
    args = parse_args()
    os.makedirs(ARTIFACTS, exist_ok=True)
    env = child_env(args.users)
    os.environ.update(env)  # before portal is imported: its Config reads the environment
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally below
    children, started, load_before = Children(), time.perf_counter(), os.getloadavg()[0]
    try:
        result = run(args, children, env)
    finally:
        children.stop_all()
    result["wall_seconds"] = time.perf_counter() - started
    result["loadavg"] = [load_before, os.getloadavg()[0]]  # the machine is shared: say how busy it was
    result["config"] = vars(args)
    problems = verdict(result)
    result["passed"] = not problems
    print_report(result)
    with open(os.path.join(ARTIFACTS, "load.json"), "w", encoding="utf-8") as out:
        json.dump(result, out, indent=2, default=str)
    print(f"written to {os.path.relpath(os.path.join(ARTIFACTS, 'load.json'), ROOT)}")
    for problem in problems:
        print(f"FAILED: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
