"""Progress and per-record issues, committed on their own connection so the page sees them live."""
import queue
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone

from connectors.redact import redact_active
from store.db import db
from store.models import SyncIssue, SyncRun

ISSUE_MESSAGE_LIMIT = 2000
# The bar: connecting 2%, fetching FETCH_FROM–FETCH_TO%, planning 90%, applying 92%, done 100% (jobs/sync.py).
FETCH_FROM, FETCH_TO = 5, 88
UNKNOWN_SIZE = 2000  # with no estimate, people read when the fetch's share of the bar is half done
# Live counts are committed at most this often (the page polls each second), unless a page brought issues or a new
# phase: one commit a page cost a 100,000-person no-change sync ~0.4 CPU s on the thread that plans (215 commits).
PAGE_WRITE_EVERY = 0.5


def now() -> datetime:
    return datetime.now(timezone.utc)


class ProgressWriter:
    """Writes phase, percent, counts and heartbeat to the run row (short separate transactions)."""

    def __init__(self, run_id: int, expected: int = 0, on_progress: Callable[[dict], None] | None = None):
        self.run_id, self.expected, self.on_progress = run_id, expected, on_progress
        self.engine = db.engine
        self._pending: queue.Queue = queue.Queue()
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._percent = FETCH_FROM
        self._queued_at, self._phase = 0.0, None
        self._held: tuple | None = None  # the latest counts not queued yet (written by the next page or flush)

    def write(self, found: list[tuple[str, str, str]] = (), /, **values) -> None:
        """Write now (after any queued page writes)."""
        self.flush()
        self._write(list(found), values)

    def _write(self, found: list, values: dict) -> None:
        values["heartbeat_at"] = now()
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # Without waiting for the WAL flush (~4 ms a commit here; a district night commits progress a dozen
                # times a school): a crash may lose the last progress, never a result, whose own commit flushes all
                # WAL before it.
                conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
            conn.execute(db.update(SyncRun).where(SyncRun.id == self.run_id).values(**values))
            if found:
                conn.execute(db.insert(SyncIssue), [
                    {"run_id": self.run_id, "source_id": sid[:255], "kind": kind,
                     "message": redact_active(message)[:ISSUE_MESSAGE_LIMIT],  # SIS text, masked before cut
                     "record": redact_active(record[0])[:ISSUE_MESSAGE_LIMIT] if record else ""}
                    for sid, kind, message, *record in found])
        if self.on_progress:
            self.on_progress(values)

    def page(self, phase: str, counts: dict, found: list) -> None:
        """After each page: queue a write of the live counts and percent (see fetch_percent), at most every
        PAGE_WRITE_EVERY seconds unless the page brought issues or a new phase; flush() writes what was held.

        A background thread commits it, so the fetch never waits on a commit (SQLite fsyncs each one).
        """
        if self._error:
            raise self._error
        item = (list(found), dict(counts, phase=phase, percent=self.fetch_percent(counts["fetched"])))
        moment = time.monotonic()
        if not found and phase == self._phase and moment - self._queued_at < PAGE_WRITE_EVERY:
            self._held = item
            return
        self._queue(item)
        self._queued_at, self._phase = moment, phase

    def _queue(self, item: tuple) -> None:
        self._held = None
        if self._thread is None:
            self._thread = threading.Thread(target=self._drain, name=f"sync-progress-{self.run_id}", daemon=True)
            self._thread.start()
        self._pending.put(item)

    def fetch_percent(self, fetched: int) -> int:
        """FETCH_FROM–FETCH_TO by people read against the people expected, never backwards and never a leap.

        With an estimate (the directory or the last sync) the bar follows it and waits at 95% of the fetch's share
        if the SIS sends more; without one (a first sync) it rises steadily towards the end without reaching it.
        """
        if self.expected:
            share = fetched / max(self.expected, fetched / 0.95)
        else:
            share = fetched / (fetched + UNKNOWN_SIZE)
        self._percent = max(self._percent, FETCH_FROM + int((FETCH_TO - FETCH_FROM) * share))
        return self._percent

    def _drain(self) -> None:
        while (item := self._pending.get()) is not None:
            try:
                if self._error is None:
                    self._write(*item)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the sync's own thread
                self._error = exc
            finally:
                self._pending.task_done()
        self._pending.task_done()

    def flush(self) -> None:
        """Write the counts held back, and wait for queued page writes; the apply must not start while one is in
        flight."""
        if self._held is not None:
            self._queue(self._held)
        if self._thread is not None:
            self._pending.put(None)
            self._thread.join()
            self._thread = None
        if self._error:
            error, self._error = self._error, None
            raise error
