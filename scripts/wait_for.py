"""Wait until the demo's Redis answers (and optionally a file exists), so honcho starts in any order."""
import argparse
import os
import sys
import time
from pathlib import Path

from redis import Redis
from redis.exceptions import ConnectionError as RedisDown


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--file", action="append", default=[], help="also wait for this file to exist")
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args(argv)
    deadline = time.monotonic() + args.timeout
    url = os.environ.get("REDIS_URL", "")
    while time.monotonic() < deadline:
        try:
            ready = not url or Redis.from_url(url).ping()
        except (RedisDown, OSError):
            ready = False
        if ready and all(Path(f).exists() and Path(f).stat().st_size for f in args.file):
            return 0
        time.sleep(0.2)
    print(f"gave up waiting for Redis at {url!r} and {args.file}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
