"""Write a plan in one transaction, in bulk; or record what it would do (preview, archive guard)."""
import logging
import secrets
from datetime import datetime, timezone
from itertools import islice, repeat

from sqlalchemy import text

from store.db import db
from store.models import Person, RosterConnection, SyncChange, SyncRun

from .bulk import bulk_insert_rows, copy_lines, copy_safe, copy_value, search_index_deferred
from .fields import FIELDS, PARENT_FIELDS, SEPARATOR, unpack
from .history import record_role_counts
from .plan import SyncPlan

CHUNK = 5000
ANALYZE_AFTER_CREATES = 5000
log = logging.getLogger(__name__)
ID_CHUNK = 1000
PEOPLE = Person.__table__
BLANK_FIELDS = dict.fromkeys(FIELDS + PARENT_FIELDS, "")


def _chunks(items, size: int):
    """Lists of up to `size` items from any iterable (lists and generators alike)."""
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


CHANGE_COLUMNS = ("run_id", "person_id", "source_id", "action", "field", "before", "after")
ACTION = CHANGE_COLUMNS.index("action")


def create_row(run_id: int, person_id: int | None, sid: str, given: str, family: str) -> tuple:
    """The change-log row of one created person (its `after` is the name)."""
    return run_id, person_id, sid, "create", "", "", f"{given} {family}".strip()


def create_lines(run_id: int, chunk: list[tuple], ids, names: tuple[int, int]) -> list[str]:
    """The "create" change-log rows of plain creates (plain_creates) as COPY text lines; `ids` None: no person."""
    given, family, run, split = names[0], names[1], f"{run_id}\t", SEPARATOR
    lines = []
    for (sid, packed, _), pid in zip(chunk, ids if ids is not None else repeat("\\N")):
        values = packed.split(split)
        lines.append(f"{run}{pid}\t{sid}\tcreate\t\t\t{(values[given] + ' ' + values[family]).strip()}\n")
    return lines


def plain_creates(chunk: list[tuple]) -> bool:
    """Creates whose values and sourcedIds hold nothing COPY's text format would escape (nearly always)."""
    return copy_safe("".join(packed for _, packed, _ in chunk)) and copy_safe("".join(sid for sid, _, _ in chunk))


def change_rows(run_id: int, plan: SyncPlan, created_ids: dict[str, int] | None = None, *, logged: int = 0):
    """The field-level change log, generated lazily: one row per created/archived/skipped person, one per changed
    field (a skip row's `field` is its reason, its `after` the name the SIS gave). `logged`: the first of
    plan.creates whose rows NewPeople already wrote with the people (creates taken during the fetch are gone).

    Rows are tuples in CHANGE_COLUMNS order (a dict each cost more than its COPY line on a 700k-person preview)."""
    created_ids = created_ids or {}

    def row(action, person_id, sid, name="", before="", after=""):
        return run_id, person_id, sid, action, name, before, after

    given, family = plan.fields.index("given_name"), plan.fields.index("family_name")
    person_id = created_ids.get
    for sid, packed, _ in islice(plan.creates, logged, None):
        values = unpack(packed)
        yield create_row(run_id, person_id(sid), sid, values[given], values[family])
    for pid, sid, _, _, _ in plan.updates:
        for name, before, after in plan.diffs.get(pid, ()):
            yield row("update", pid, sid, name, before, after)
    for pid, sid, _, _ in plan.links:
        yield row("link", pid, sid, "source_id", "", sid)
        for name, before, after in plan.diffs.get(pid, ()):
            yield row("link", pid, sid, name, before, after)
    for pid, sid in plan.archives:
        yield row("archive", pid, sid, "status", "active", "archived")
    for pid, old, new in plan.rekeys:
        yield row("rekey", pid, new, "source_id", old, new)
    for pid, sid, reason, name in plan.skips:  # who was left as they were, and why (store.vocabulary.SKIP_REASONS)
        yield row("skip", pid, sid, reason, "", name)


class NewPeople:
    """Inserts a plan's new people inside the session's open transaction, in batches; nothing commits until
    apply_plan commits the whole run, and a failure before that rolls them back with the rest.
    (jobs.early_people writes them while the SIS is still being read.)

    On PostgreSQL each batch takes its ids from the person sequence and writes its "create" change-log rows
    with the people, so apply_plan neither reads the ids back nor logs the creates afterwards (both were serial
    work after the fetch of a first sync), and no source_id → id map is kept (700,000 of them held ~100 MB).
    SQLite reads the ids back once and apply_plan logs them."""

    def __init__(self, run_id: int, school_id: int, district_id: int, fields: tuple[str, ...]):
        self.run_id, self.school_id, self.now, self.written = run_id, school_id, datetime.now(timezone.utc), 0
        self.logged = 0  # creates whose change-log row is written
        self._log_reset = False
        self._names = fields.index("given_name"), fields.index("family_name")  # at the front of each row
        # COPY applies no Python-side defaults: every column is given. Rows are value lists in `columns` order
        # (a dict per person cost more than its COPY line).
        blank = tuple(name for name in BLANK_FIELDS if name not in fields)
        fixed = {"school_id": school_id, "district_id": district_id, "status": "active", "archived_by": "",
                 "sync_enabled": True, "sync_report_opt_in": False, "created_at": self.now, "updated_at": self.now}
        self.columns = [*fields, *blank, "source_id", "source_updated_at", "session_token", *fixed]
        self._tail, self._constants = ("",) * len(blank), tuple(fixed.values())
        self._fixed_text = "\t".join(map(copy_value, self._constants))  # the same in every COPY line

    def write(self, creates: list[tuple]) -> int:
        """Insert these creates (none written before); returns how many of them got their change-log row too."""
        logged = self.logged
        # first: on SQLite this DELETE opens the transaction, so search_index_deferred's DROP TRIGGER is inside it
        self.reset_log(db.session.connection())
        with search_index_deferred(len(creates)):
            connection = db.session.connection()
            for chunk in _chunks(creates, CHUNK):
                self.insert(chunk, connection)
        self.written += len(creates)
        return self.logged - logged

    def reset_log(self, connection) -> None:
        """Before this run's first change-log row: clear what a re-queued run recorded the first time."""
        if not self._log_reset:
            _reset_changes(self.run_id, connection)
            self._log_reset = True

    def insert(self, chunk: list[tuple], connection) -> None:
        self.reset_log(connection)
        tokens = secrets.token_bytes(16 * len(chunk)).hex()  # one call, 32 hex digits per person
        if connection.dialect.name != "postgresql":
            bulk_insert_rows(PEOPLE, self.columns, self._rows(chunk, tokens), connection)  # ids() reads ids back
            return
        ids = connection.exec_driver_sql(
            "SELECT nextval(pg_get_serial_sequence('person', 'id')) FROM generate_series(1, %(n)s)",
            {"n": len(chunk)}).scalars().all()
        plain = plain_creates(chunk)
        if plain:
            copy_lines(PEOPLE, [*self.columns, "id"], self._lines(chunk, tokens, ids), connection)
        else:  # a tab, newline or backslash somewhere: psycopg escapes them
            bulk_insert_rows(PEOPLE, [*self.columns, "id"],
                             (row + (pid,) for row, pid in zip(self._rows(chunk, tokens), ids)), connection)
        self.log_creates(chunk, ids, connection, plain=plain)

    def log_creates(self, chunk: list[tuple], ids, connection, *, plain: bool) -> None:
        """The "create" change-log rows of `chunk` (`ids` None: a preview's, linked to no person); `plain`: what
        plain_creates(chunk) said."""
        if plain:
            copy_lines(SyncChange.__table__, CHANGE_COLUMNS, create_lines(self.run_id, chunk, ids, self._names),
                       connection)
        else:  # a tab, newline or backslash somewhere: psycopg escapes them
            given, family = self._names
            rows = []
            for (sid, packed, _), pid in zip(chunk, ids if ids is not None else repeat(None)):
                values = unpack(packed)
                rows.append(create_row(self.run_id, pid, sid, values[given], values[family]))
            bulk_insert_rows(SyncChange.__table__, CHANGE_COLUMNS, rows, connection)
        self.logged += len(chunk)

    def _rows(self, chunk: list[tuple], tokens: str) -> list[tuple]:
        tail, constants = self._tail, self._constants
        return [(*unpack(packed), *tail, sid, modified, tokens[32 * i:32 * i + 32], *constants)
                for i, (sid, packed, modified) in enumerate(chunk)]

    def _lines(self, chunk: list[tuple], tokens: str, ids) -> list[str]:
        """COPY text lines of plain creates (plain_creates), in `columns` order and then the id: the packed
        values are already the first columns once their separators become tabs."""
        blank, fixed, split, tab = "\t" * len(self._tail), self._fixed_text, SEPARATOR, "\t"
        last, when = object(), ""
        lines = []
        for i, ((sid, packed, modified), pid) in enumerate(zip(chunk, ids)):
            if modified is not last:  # a bundle's records share a few timestamp objects: format each once
                last, when = modified, copy_value(modified)
            lines.append(f"{packed.replace(split, tab)}{blank}\t{sid}\t{when}\t{tokens[32 * i:32 * i + 32]}"
                         f"\t{fixed}\t{pid}\n")
        return lines

    def ids(self) -> dict[str, int]:
        """SQLite: source_id → id of the people written, for their change-log rows (one query). PostgreSQL logged
        them with their ids already, so it needs none."""
        if self.logged or not self.written:
            return {}
        created = db.select(Person.source_id, Person.id).where(
            Person.school_id == self.school_id, Person.created_at == self.now, Person.source_id.is_not(None))
        return {sid: pid for sid, pid in db.session.execute(created.execution_options(yield_per=CHUNK))}


def _update_people(plan: SyncPlan, now: datetime) -> None:
    rows = []
    for pid, _, _, modified, restore in plan.updates:
        row = {"id": pid, "source_updated_at": modified, "updated_at": now}
        row.update((name, after) for name, _, after in plan.diffs[pid] if name != "status")
        if restore:
            row.update(status="active", archived_by="", archived_at=None)
        rows.append(row)
    for pid, sid, _, modified in plan.links:
        row = {"id": pid, "source_id": sid, "source_updated_at": modified, "updated_at": now}
        row.update((name, after) for name, _, after in plan.diffs.get(pid, ()))
        rows.append(row)
    rows += [{"id": pid, "source_id": new, "updated_at": now} for pid, _, new in plan.rekeys]
    for chunk in _chunks(rows, CHUNK):
        db.session.execute(db.update(Person), chunk)
    for chunk in _chunks([pid for pid, _ in plan.archives], ID_CHUNK):
        db.session.execute(db.update(Person).where(Person.id.in_(chunk)).values(
            status="archived", archived_by="sync", archived_at=now, updated_at=now))


def _insert_changes(rows) -> None:
    """Rows as CHANGE_COLUMNS tuples (change_rows), or dicts with those keys (jobs.undo's log)."""
    for chunk in _chunks(rows, CHUNK):
        if isinstance(chunk[0], dict):
            chunk = [[row[name] for name in CHANGE_COLUMNS] for row in chunk]
        bulk_insert_rows(SyncChange.__table__, CHANGE_COLUMNS, chunk)


def _reset_changes(run_id: int, connection=None) -> None:
    """A re-queued run (approved after review) replaces what it recorded the first time."""
    (connection if connection is not None else db.session).execute(
        db.delete(SyncChange).where(SyncChange.run_id == run_id))


def apply_plan(run_id: int, school_id: int, district_id: int, plan: SyncPlan, *, full: bool,
               connection_id: int, version: str | None = None, people: NewPeople | None = None) -> None:
    """All of the plan, the change log, the counts and the run's success commit together or not at all.

    `people`: the NewPeople that already wrote some creates in this transaction during the fetch."""
    now = datetime.now(timezone.utc)
    try:
        people = people or NewPeople(run_id, school_id, district_id, plan.fields)
        logged = people.write(plan.creates)  # first clears the run's old change log (unless its early batches did)
        created = people.ids()
        _update_people(plan, now)
        _insert_changes(change_rows(run_id, plan, created, logged=logged))
        record_role_counts(run_id, school_id)
        marks = {"high_water_mark": plan.high_water} if plan.high_water else {}
        if full:
            marks["last_full_sync_at"] = now
            if version:  # a full sync has seen everyone: the people now carry this version's sourcedIds
                marks["keyed_version"] = version
        if marks:
            db.session.execute(db.update(RosterConnection).where(RosterConnection.id == connection_id)
                               .values(**marks))
        done = datetime.now(timezone.utc)  # after the writes, so the run's duration includes them
        db.session.execute(db.update(SyncRun).where(SyncRun.id == run_id).values(
            status="succeeded", phase="done", percent=100, finished_at=done, heartbeat_at=done,
            rostered_total=plan.rostered_total, would_archive=len(plan.archives), **plan.totals()))
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    if plan.created >= ANALYZE_AFTER_CREATES:
        refresh_statistics()


# The columns People pages filter, sort and look people up by. ANALYZE of only these took 0.5 s against 2.1 s
# for the whole table (100k people, mostly the trigram indexes' lower(...) expressions); a partial ANALYZE does
# not reset the table's count of changes since its last analyze, so autovacuum still analyzes it all soon after.
ANALYZED_COLUMNS = ("id", "school_id", "district_id", "role", "status", "family_name", "given_name", "email",
                    "sis_id", "source_id")


def refresh_statistics() -> None:
    """After a big first sync, PostgreSQL's planner still thinks the school is tiny until autoanalyze runs,
    and People pages sort the whole school on disk meanwhile (seen: p95 1.4-2.3 s under load). Best effort."""
    if db.engine.dialect.name != "postgresql":
        return
    try:
        db.session.execute(text(f"ANALYZE person ({', '.join(ANALYZED_COLUMNS)})"))
        db.session.commit()
    except Exception:  # noqa: BLE001 - the sync already succeeded; stale statistics only cost speed
        db.session.rollback()
        log.warning("ANALYZE person after a big sync failed", exc_info=True)


def record_without_applying(run_id: int, plan: SyncPlan, *, status: str, message: str = "",
                            archives_only: bool = False, logger: NewPeople | None = None,
                            would_hold: bool = False) -> None:
    """Preview (every planned change) or needs_review (who would be archived): Person is not touched.

    `logger`: what logged the creates already taken from the plan, in this transaction (it cleared the old log)."""
    now = datetime.now(timezone.utc)
    try:
        if logger is None:
            _reset_changes(run_id)
        else:
            logger.reset_log(db.session.connection())
        rows = change_rows(run_id, plan)
        _insert_changes((r for r in rows if r[ACTION] == "archive") if archives_only else rows)
        counts = {"fetched": plan.counts["fetched"], "issues": plan.counts["issues"]} if archives_only \
            else plan.totals()
        db.session.execute(db.update(SyncRun).where(SyncRun.id == run_id).values(
            status=status, phase=status, percent=100, finished_at=now, heartbeat_at=now, error_message=message,
            rostered_total=plan.rostered_total, would_archive=len(plan.archives), would_hold=would_hold, **counts))
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
