"""`python -m jobs.scheduler_main`: register the nightly cron tick, then run rq-scheduler's loop.

Registration replaces any earlier one, and rq-scheduler's own lock lets only one of several running
schedulers enqueue, so starting a second scheduler (or restarting one) never doubles the ticks.
"""
import argparse
import logging
import os
import sys
import warnings

from redis import Redis
from rq_scheduler import Scheduler

from .schedule import TICK_CRON, register_schedule


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jobs.scheduler_main", description=__doc__)
    parser.add_argument("--url", default=os.environ.get("REDIS_URL", ""), help="Redis URL (default: $REDIS_URL)")
    parser.add_argument("--queue", default=os.environ.get("RQ_QUEUE", "sync"))
    parser.add_argument("--cron", default=TICK_CRON, help="How often the dispatcher ticks (cron syntax, UTC)")
    parser.add_argument("--interval", type=float, default=10.0, help="Seconds between checks for due jobs")
    args = parser.parse_args(argv)
    if not args.url:
        parser.error("set REDIS_URL (or --url) to the Redis the workers use")
    # rq-scheduler passes naive UTC to crontab, which warns about a future default; the times are right.
    warnings.filterwarnings("ignore", category=FutureWarning, module="rq_scheduler")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s scheduler %(message)s")
    scheduler = Scheduler(queue_name=args.queue, connection=Redis.from_url(args.url), interval=args.interval)
    job = register_schedule(scheduler, cron=args.cron, queue_name=args.queue)
    logging.info("registered %s (%s) on queue %s", job.id, args.cron, args.queue)
    scheduler.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
