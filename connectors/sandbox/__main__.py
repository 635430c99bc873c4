"""`python -m connectors.sandbox`: run a sandbox SIS and print its connection details as JSON."""
import argparse
import json
import signal
import sys

from . import VENDORS, Sandbox


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m connectors.sandbox", description=__doc__)
    parser.add_argument("--vendor", choices=VENDORS, default="oneroster")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--schools", type=int, default=3)
    parser.add_argument("--students", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--page-cap", type=int, default=1000)
    parser.add_argument("--auth", choices=("oauth2", "oauth1"), default="oauth2")
    parser.add_argument("--oneroster-12", action="store_true", help="serve OneRoster 1.2 beside 1.1")
    parser.add_argument("--faults", default="", help='JSON object of faults, e.g. \'{"rate_limit_every": 5}\'')
    args = parser.parse_args(argv)
    sandbox = Sandbox(args.vendor, args.schools, args.students, args.seed, args.port, auth=args.auth,
                      page_cap=args.page_cap, oneroster_12=args.oneroster_12,
                      faults=json.loads(args.faults) if args.faults else None)
    print(json.dumps(sandbox.info), flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        sandbox.server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        sandbox.stopping.set()
        sandbox.server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
