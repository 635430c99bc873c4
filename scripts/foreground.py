"""Shared by the demo's long-running helpers: block until honcho's SIGTERM or Ctrl-C."""
import signal
import sys
import time


def wait_until_stopped() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        while True:
            time.sleep(3600)
    except (KeyboardInterrupt, SystemExit):
        pass
