"""Browser fixtures: the app on a loopback port, an in-process sync worker, and Chromium via Playwright."""
import collections
import os
import sys
import threading
import time
import traceback

import pytest
from rq import SimpleWorker
from rq.timeouts import TimerDeathPenalty
from werkzeug.serving import make_server

from portal import create_app
from store.db import db
from tests.support import SCREENSHOTS, app_config

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


# What the in-process worker did lately, shown beside a failed browser test: a test that waits for a job which
# never ran says whether the worker was busy with another test's job, idle, or gone.
WORKER_LOG: collections.deque = collections.deque(maxlen=40)


def _note(event: str) -> None:
    WORKER_LOG.append(f"{time.strftime('%H:%M:%S')}.{int(time.time() * 1000) % 1000:03d} {event}")


class ThreadWorker(SimpleWorker):
    """An RQ worker that can live in a thread: no signal handlers, timer-based job timeouts."""

    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self):
        pass

    def perform_job(self, job, queue):
        _note(f"start {job.func_name} {job.id} on {queue.name}")
        try:
            return super().perform_job(job, queue)
        finally:
            _note(f"end {job.func_name} {job.id}: {job.get_status(refresh=False)}")


@pytest.fixture(scope="session")
def live_app(_schema):
    return create_app(app_config())


@pytest.fixture(scope="session")
def live_server(live_app):
    """The portal served by werkzeug on 127.0.0.1, sharing the test database."""
    server = make_server("127.0.0.1", 0, live_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="package")
def sync_worker(live_app):
    """Processes the checks and sync queues in a thread, as `python -m portal.worker` would in production.

    Package-scoped: once the browser tests end it stops, so it never picks up other tests' jobs.
    """
    stop = threading.Event()

    def loop():
        while not stop.is_set():
            # A fresh app context per burst, as a real worker has per job: no transaction is left open
            # between jobs to block the next test's table reset. A fresh worker (a new name) per burst too:
            # a test's Redis flush can land mid-burst and leave the old name's record half-written, which
            # RQ would refuse as "an active worker named ... already" and end this thread.
            worker = ThreadWorker([live_app.check_queue, live_app.sync_queue], connection=live_app.redis)
            try:
                with live_app.app_context():
                    worker.work(burst=True, with_scheduler=False)
                    db.session.remove()
            except Exception as exc:  # a burst that breaks must not end the worker for every later test
                _note(f"burst failed: {exc!r}")
            time.sleep(0.2)

    thread = threading.Thread(target=loop, name="sync-worker", daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(10)


@pytest.fixture
def live_bundles(live_app, tmp_path):
    """The live server and its worker keep received bundles under the test's folder."""
    before = live_app.config["BUNDLE_DIR"]
    live_app.config["BUNDLE_DIR"] = str(tmp_path / "bundles")
    yield
    live_app.config["BUNDLE_DIR"] = before


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)")
    from playwright.sync_api import expect, sync_playwright
    expect.set_options(timeout=20_000)  # a connection test or a sync can take a few seconds
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


# Every browser test runs at a desktop and a phone width (#17.3); BROWSER_WIDTHS=1280 runs one of them.
VIEWPORTS = {1280: {"width": 1280, "height": 900}, 390: {"width": 390, "height": 844}}
WIDTHS = [int(w) for w in os.environ.get("BROWSER_WIDTHS", "1280,390").split(",") if int(w) in VIEWPORTS]


@pytest.fixture(params=WIDTHS, ids=lambda width: f"{width}px")
def viewport(request) -> dict:
    return VIEWPORTS[request.param]


@pytest.fixture
def page(browser, live_server, app, viewport):
    """A fresh browser tab; `page.console_errors` collects what the console reports as errors."""
    context = browser.new_context(base_url=live_server, viewport=viewport)
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors = []
    page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
    page.console_errors = errors
    yield page
    context.close()
    assert not [e for e in errors if "Content Security Policy" in e], errors


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed browser test reports what the in-process worker was doing, and the queues' contents."""
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    lines = list(WORKER_LOG)
    worker = next((t for t in threading.enumerate() if t.name == "sync-worker"), None)
    frame = sys._current_frames().get(worker.ident) if worker is not None else None
    lines.append("sync-worker stack:\n" + "".join(traceback.format_stack(frame)) if frame is not None
                 else "no sync-worker thread is alive")
    live_app = item.funcargs.get("live_app")
    if live_app is not None:
        for queue in (live_app.check_queue, live_app.sync_queue):
            lines.append(f"queue {queue.name}: {queue.count} waiting {queue.job_ids[:5]}; "
                         f"started {queue.started_job_registry.get_job_ids()[:5]}")
    report.sections.append(("sync worker", "\n".join(lines)))


def pytest_terminal_summary(terminalreporter):
    if SCREENSHOTS.is_dir() and any(SCREENSHOTS.glob("*.png")):
        terminalreporter.write_line(f"Browser screenshots: {SCREENSHOTS}")
