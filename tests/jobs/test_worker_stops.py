"""A worker that is told to stop (the end of a burst, a deploy's SIGTERM) stops at once, not a minute later.

rq's worker listens for commands on a Redis pub/sub channel in a thread and, on teardown, unsubscribes and stops
that thread. With redis-py 8.2 stopping the thread waits for it, and a thread that had already looped back to wait
for a subscription sits there for rq's 60-second poll: under load every burst risked a one-minute stall, and the
browser tests' jobs never ran in time. pyproject.toml keeps redis-py below 8.2; this test holds the line.
"""
import time

from rq import Queue, SimpleWorker


def _listening_worker(app) -> SimpleWorker:
    worker = SimpleWorker([Queue("stop-test", connection=app.redis)], connection=app.redis)
    worker.subscribe()
    return worker


def test_a_worker_whose_listener_is_waiting_for_a_subscription_stops_within_seconds(app):
    worker = _listening_worker(app)
    worker.pubsub.unsubscribe()  # the listener reads the reply, loops, and waits for a new subscription
    deadline = time.monotonic() + 5
    while worker.pubsub.subscribed and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # past the reply: the listener is back in get_message, waiting
    started = time.monotonic()
    worker.unsubscribe()
    assert time.monotonic() - started < 10  # rq's own join is 1 s; 60 s is the stall


def test_a_burst_with_nothing_to_do_ends_within_seconds(app):
    worker = SimpleWorker([Queue("stop-test", connection=app.redis)], connection=app.redis)
    started = time.monotonic()
    worker.work(burst=True, with_scheduler=False)
    assert time.monotonic() - started < 10
