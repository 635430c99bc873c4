"""PostgreSQL: write a sync's new people while the SIS is still being read, uncommitted, from a thread.

A 100k first sync's apply was mostly the server maintaining the person indexes (five trigram GINs) while the
client waited for each COPY to finish. Here a thread COPYs each batch on the session's connection, in the
session's open transaction, while the main thread reads and plans on (psycopg waits without the GIL); with them
go their ids (from the sequence) and their "create" change-log rows, the run's old log cleared first. Nothing
commits before apply_plan commits the whole run; a failed, held or refused run rolls the rows back with the rest.
"""
import queue
import threading

from store.db import db

from .apply import CHUNK, NewPeople, _chunks

EARLY_BATCH = CHUNK  # new people waiting before a batch is handed to the thread (tests make it 1)


class EarlyPeople(NewPeople):
    """feed() after every page; settle() before the session is used again (nothing else touches it meanwhile)."""

    def __init__(self, run_id: int, school_id: int, district_id: int, fields: tuple[str, ...]):
        super().__init__(run_id, school_id, district_id, fields)
        self.queued = 0
        self._pending: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._cancelled = False

    def feed(self, creates: list[tuple]) -> None:
        """Hand the creates not queued yet to the thread once a batch waits; re-raises the thread's failure."""
        if self._error is not None:
            raise self._error
        if len(creates) - self.queued < EARLY_BATCH:
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._drain, args=(db.session.connection(),),
                                            name="sync-new-people", daemon=True)
            self._thread.start()
        self._pending.put(creates[self.queued:])
        self.queued = len(creates)

    def _drain(self, connection) -> None:
        while (batch := self._pending.get()) is not None:
            if self._error is not None or self._cancelled:
                continue
            try:
                for chunk in _chunks(batch, CHUNK):
                    self.insert(chunk, connection)
                self.written += len(batch)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the sync's own thread
                self._error = exc

    def settle(self, *, cancel: bool = False) -> None:
        """Wait until the thread is done (`cancel`: skip what it has not started; the run is failing anyway)."""
        if self._thread is not None:
            self._cancelled = cancel
            self._pending.put(None)
            self._thread.join()
            self._thread = None
        if self._error is not None and not cancel:
            raise self._error

    def write(self, creates: list[tuple]) -> None:
        self.settle()
        super().write(creates)
