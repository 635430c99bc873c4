"""`python -m portal.worker [QUEUE ...]`: the RQ worker, running every job inside the portal's app context.

Jobs (`jobs.sync.run_sync`, `jobs.schedule.tick`, `jobs.checks.run_queued_test`, `portal.auth.reset.send_reset_email`) are enqueued by
dotted name and never build an app themselves: this entry builds it once, from the environment, and each
job runs in a work horse forked from here with a fresh app context of its own.
"""
import argparse
import gc
import sys

from flask import Flask
from rq import Worker
from sqlalchemy.orm import configure_mappers

from store.db import db

from . import create_app


class AppWorker(Worker):
    """RQ's forking worker; the work horse pushes an app context around the job and drops it after."""

    def __init__(self, *args, app: Flask, **kwargs):
        super().__init__(*args, **kwargs)
        self.app = app

    def perform_job(self, job, queue) -> bool:
        with self.app.app_context():
            # A forked horse must not reuse database connections the parent may hold; it opens its own.
            db.engine.dispose(close=False)
            try:
                return super().perform_job(job, queue)
            finally:
                db.session.remove()


def warm_up(app: Flask) -> None:
    """Once, before any fork, what every work horse would otherwise do again and throw away: configure the ORM's
    mappers (70-170 ms of each job here, a tenth of a district school's run) and initialise the database dialect
    on a first connection (~15 ms); then freeze the start-up objects out of the garbage collector, so a horse's
    collections neither scan nor copy-on-write the parent's heap (the gc.freeze() documentation's advice)."""
    configure_mappers()
    with app.app_context():
        with db.engine.connect():
            pass
        db.engine.dispose()  # no connection of the parent's for a horse to inherit
    gc.freeze()


def main(argv=None, app: Flask | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m portal.worker", description=__doc__)
    parser.add_argument("queues", nargs="*", help="Queues in priority order (default: $MAIL_QUEUE, $CHECK_QUEUE, "
                                                  "$RQ_QUEUE: an email or a connection test never waits behind a sync)")
    parser.add_argument("--burst", action="store_true", help="Stop once the queues are empty")
    parser.add_argument("--name", default=None, help="Worker name (default: RQ's own)")
    args = parser.parse_args(argv)
    app = app or create_app()
    known = {queue.name: queue for queue in (app.mail_queue, app.check_queue, app.sync_queue)}
    names = args.queues or list(known)
    queues = [known.get(name, name) for name in names]
    warm_up(app)
    worker = AppWorker(queues, connection=app.redis, name=args.name, app=app)
    worker.work(burst=args.burst, logging_level="INFO")
    return 0


if __name__ == "__main__":
    sys.exit(main())
