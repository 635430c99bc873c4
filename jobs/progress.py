"""Progress and per-record issues, committed on their own connection so the page sees them live."""
from collections.abc import Callable
from datetime import datetime, timezone

from portal.extensions import db
from portal.models import SyncIssue, SyncRun

ISSUE_MESSAGE_LIMIT = 2000


def now() -> datetime:
    return datetime.now(timezone.utc)


class ProgressWriter:
    """Writes phase, percent, counts and heartbeat to the run row (short separate transactions)."""

    def __init__(self, run_id: int, expected: int = 0, on_progress: Callable[[dict], None] | None = None):
        self.run_id, self.expected, self.on_progress = run_id, expected, on_progress

    def write(self, found: list[tuple[str, str, str]] = (), /, **values) -> None:
        values["heartbeat_at"] = now()
        with db.engine.begin() as conn:
            conn.execute(db.update(SyncRun).where(SyncRun.id == self.run_id).values(**values))
            if found:
                conn.execute(db.insert(SyncIssue), [
                    {"run_id": self.run_id, "source_id": sid[:255], "kind": kind,
                     "message": message[:ISSUE_MESSAGE_LIMIT]} for sid, kind, message in found])
        if self.on_progress:
            self.on_progress(values)

    def page(self, phase: str, counts: dict, found: list) -> None:
        """After each page: a percent between 5 and 90, estimated from the directory's size."""
        fetched = counts["fetched"]
        expected = max(self.expected, fetched + 1)
        self.write(found, phase=phase, percent=5 + int(85 * fetched / expected), **counts)
