"""How fast the OneRoster client pages a 100,000-student school, and how little memory it holds.

The sandbox runs in its own process so the numbers are the client's alone.
Run: .venv/bin/python benchmarks/client_throughput.py [--students 100000] [--page-size 1000]
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from connectors.client import OneRosterClient  # noqa: E402
from connectors.profiles import get_profile  # noqa: E402
from connectors.records import PersonRecord  # noqa: E402


def rss_mb() -> float:
    try:
        import psutil
        return psutil.Process().memory_info().rss / 2**20
    except ImportError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def start_sandbox_process(students: int) -> tuple[subprocess.Popen, dict]:
    proc = subprocess.Popen([sys.executable, "-m", "connectors.sandbox", "--vendor", "aeries", "--port", "0",
                             "--schools", "1", "--students", str(students), "--seed", "1"],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True)
    return proc, json.loads(proc.stdout.readline())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--students", type=int, default=100_000)
    parser.add_argument("--page-size", type=int, default=1000)
    args = parser.parse_args()

    started = time.perf_counter()
    proc, info = start_sandbox_process(args.students)
    print(f"sandbox (separate process) ready in {time.perf_counter() - started:.1f}s at {info['base_url']}")
    try:
        settings = get_profile("aeries").normalise(
            {"url": info["base_url"] + "/", "client_id": info["client_id"], "client_secret": info["client_secret"],
             "school_id": info["school_ids"][0]}, allow_loopback_http=True)
        for label in ("cold (server caches JSON on first read)", "warm"):
            before, peak, count = rss_mb(), 0.0, 0
            t0 = time.perf_counter()
            with OneRosterClient(settings, page_size=args.page_size) as client:
                for page in client.iter_roster(settings.school_id, {"student"}):
                    count += sum(isinstance(p, PersonRecord) for p in page)
                    peak = max(peak, rss_mb())
                sent = client.request_count
            elapsed = time.perf_counter() - t0
            print(f"{label}: {count:,} students in {elapsed:.2f}s = {count / elapsed:,.0f} records/s over "
                  f"{sent} requests; client RSS {before:.0f} MB before, peak {peak:.0f} MB")
        print(f"client peak RSS (ru_maxrss): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
