"""A district night's spool: the raw records one read of the SIS brought, filed by school, in the database.

Why a table and not per-school files: a night fans out one plan-and-apply job per school on RQ so that workers
on several machines share it, and a file written on the machine that read the SIS is not on the others (unless
every worker mounts one shared directory); the database is the one store every worker already shares (SQLite
for the demo, where everything runs on one machine). Files are faster, the table is fast enough: measured with
36,000 records of ~620 bytes in 8 schools on this shared 2-core machine (load 10-17, so the spread is wide),
per-school JSON-lines files took 0.2-0.6 s to write and 0.1-0.2 s to read back; the UNLOGGED table filled with
COPY took 0.7-1.1 s to write, 1.2-2.7 s to read back in keyset pages of 1,000 (index scans) and 0.1-0.4 s to
delete: a few percent of a night that plans and applies those schools. Memory stays bounded either way: rows
are written in batches and read back a page at a time, with no cursor held open between pages. Since then a
row is a compact line of fields rather than JSON (pack_record), and parents, filed under their schools once the
read has seen every student, are copied inside PostgreSQL instead of being read back and written again
(refile_parents).

Each school's rows are read back in the order its own sync would have read them (jobs.fetch.STEPS: staff
and parents, then students, then teachers, each in the SIS's sourcedId order) and pass through the same
`connectors.people.school_page` filter, so the planner sees what the school's own read would have given it.
"""
import json
import logging
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from connectors.packed import FS, PS, RS, pack_record  # noqa: F401 - pack_record: the spool's format, here too
from connectors.people import WHO, DateCheck, Normalised, school_page
from connectors.records import PersonRecord, RosterNotice
from store.db import db
from store.models import RosterConnection, SourceNight, SourceNightRun, SpoolRecord, SyncRun

from .fetch import STEPS, fetch_steps
from . import sync as sync_job
from .confirm import confirm_leavers
from .sync import SyncRefused

SPOOL = SpoolRecord.__table__
log = logging.getLogger(__name__)
WRITE_BATCH = 5000
# Records per page fed to the planner. Not the client's 1,000: each page costs a progress commit (on a thread that
# takes the GIL), a lock check and the planner's per-page work, ~14% of a no-change school's samples at 1,000.
READ_BATCH = 5000
FETCH_BATCH = 20000  # rows per query of the read-back: a 10,000-person school in one query (25% less time than 5,000)
CHANGED_SINCE_READ = ("This school's SIS School ID or the roles it syncs changed after tonight's read of the district's "
                      "SIS, so it was not synced from that read. Run Sync now to sync it with its new settings.")
NOBODY_OF_SCHOOL = ("None of the {read:,} records tonight's read of the district's SIS brought are {who} of SIS school "
                    "{school}, so this school's sync stopped instead of treating all of its {who} as gone. Check the "
                    "school's SIS School ID in its mapping on the source's page (testing the source lists the SIS's "
                    "schools), and that the source's client may read {who}.")
PARENTS = None  # school_id of parents not yet routed to the schools whose students they are agents of
NOTICE = "N"  # a payload that is a notice for the school's run (a listing read in full), not a record


_TUPLES = (9, 13, 14)  # grades, orgs, agents: the payload fields that hold lists
_person = PersonRecord._make  # a tuple from a list, without the keyword handling of PersonRecord(...)


def unpack_record(payload: str):
    """A spool payload back as connectors.people.school_page takes it (Normalised, or the raw record)."""
    kind = payload[0]
    if kind == "R":
        return json.loads(payload[1:])
    if kind != "J":
        parts = payload.split(FS)
        return Normalised(_packed_person(parts), parts[18] or None)
    parts = json.loads(payload[1:])
    for i in _TUPLES:
        parts[i] = tuple(parts[i])
    parts[15] = datetime.fromisoformat(parts[15]) if parts[15] else None
    org_roles = tuple(map(tuple, parts[19])) if len(parts) > 19 else ()  # a payload packed before org_roles: none
    return Normalised(_person(parts[1:18] + [org_roles]), parts[18])


def _packed_person(parts: list[str]) -> PersonRecord:
    """The person of a "P…" payload split at FS (pack_record's fields 1-17, and 19: org_roles)."""
    org_roles = parts[19] if len(parts) > 19 else ""
    return _person((parts[1], parts[2], parts[3], parts[4], parts[5], parts[6], parts[7], parts[8],
                    tuple(parts[9].split(RS)) if parts[9] else (), parts[10], parts[11], parts[12] == "1",
                    tuple(parts[13].split(RS)) if parts[13] else (), tuple(parts[14].split(RS)) if parts[14] else (),
                    datetime.fromisoformat(parts[15]) if parts[15] else None, parts[16], parts[17],
                    tuple(tuple(pair.split(PS)) for pair in org_roles.split(RS)) if org_roles else ()))


def school_records(payloads: list[str], roles: frozenset[str], school_id: str, seen: set[str],
                   dates: DateCheck) -> list:
    """What `school_page([unpack_record(p) for p in payloads], roles, school_id, scoped=False, ...)` returns, with
    a packed person filtered before its record is built and without a call per record through school_page: this
    read-back is each school's share of the night, repeated for every person (and parent) of the district."""
    wanted = school_id.lower()
    out: list = []
    for payload in payloads:
        if payload[0] == NOTICE:
            out.append(RosterNotice("listing", payload[1:]))
            continue
        if payload[0] != "P":
            out += school_page([unpack_record(payload)], roles, school_id, scoped=False, seen=seen, dates=dates)
            continue
        parts = payload.split(FS)
        if len(parts) > 19 and parts[19]:  # roles that differ by org (1.2): the role held at this school decides
            out += school_page([Normalised(_packed_person(parts), parts[18] or None)], roles, school_id,
                               scoped=False, seen=seen, dates=dates)
            continue
        role = parts[2]
        if role not in roles:
            continue
        orgs = parts[13]
        if role != "parent" and not (orgs and wanted in orgs.lower().split(RS)):
            continue  # connectors.people.in_school, on the packed list
        seen.add(parts[1])
        out.append(dates.check_given(_packed_person(parts), parts[18] or None))
    return out


def step_of(roles) -> int:
    """The fetch step (index in jobs.fetch.STEPS) whose listing holds these roles."""
    return next(i for i, (_, step_roles) in enumerate(STEPS) if set(roles) <= step_roles)


class SpoolWriter:
    """Buffers (school, step, payload) rows of one night and writes them in batches on their own connection.

    On PostgreSQL a thread COPYs each batch while the read files the next (psycopg waits for the server without the
    GIL): measured on a 200,000-person night, the read otherwise spent a sixth of its time waiting on COPYs. At most
    one batch waits for the thread, so memory stays bounded. A failed write is raised by the next add() or flush().
    """

    def __init__(self, night_id: int, batch: int | None = None):
        self.night_id, self.batch = night_id, batch or WRITE_BATCH
        self.engine = db.engine  # the thread has no app context to find it
        self.rows: list[tuple] = []
        self._also = None  # a statement for the next batch's transaction (see also())
        self.written = 0
        self._pending: queue.Queue = queue.Queue(maxsize=1)
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._cancelled = False

    def add(self, school_id: int | None, step: int, payload: str) -> None:
        self.rows.append((self.night_id, school_id, step, payload))
        if len(self.rows) >= self.batch:
            self._hand_over()

    def also(self, statement) -> bool:
        """Run `statement` (the night's progress) in the transaction of the next batch, on the writer's thread:
        written from the reading thread, its three round trips each waited for the GIL behind the page fetcher
        (~24 ms a progress note). False, and nothing kept, when the previous one has not gone with a batch yet
        (a stretch of records for no school): the caller then writes it itself."""
        if self._also is not None:
            self._also = None
            return False
        self._also = statement
        return True

    def _hand_over(self) -> None:
        if self._error is not None:
            raise self._error
        if not self.rows:
            return
        rows, self.rows = self.rows, []
        also, self._also = self._also, None
        if self.engine.dialect.name != "postgresql":  # SQLite has one writer anyway: write here
            self._write(rows, also)
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._drain, name=f"spool-writer-{self.night_id}", daemon=True)
            self._thread.start()
        self._pending.put((rows, also))

    def _drain(self) -> None:
        while (item := self._pending.get()) is not None:
            if self._error is not None or self._cancelled:
                continue
            try:
                self._write(*item)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the reading thread
                self._error = exc

    def _write(self, rows: list[tuple], also=None) -> None:
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                with conn.connection.driver_connection.cursor() as cursor:
                    with cursor.copy("COPY spool_record (night_id, school_id, step, payload) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(row)
            else:
                conn.execute(SPOOL.insert(), [dict(zip(("night_id", "school_id", "step", "payload"), row))
                                              for row in rows])
            if also is not None:
                conn.execute(also)
        self.written += len(rows)

    def flush(self) -> None:
        """Write every buffered row and wait until they are in the spool (before anything reads it back)."""
        self._hand_over()
        self._join()
        if self._error is not None:
            raise self._error

    def close(self) -> None:
        """Stop writing (a failed read): skip the batches not started and wait for the one being written, so no
        row lands after the night's spool was emptied."""
        self._cancelled = True
        self.rows = []
        self._join()

    def _join(self) -> None:
        if self._thread is not None:
            self._pending.put(None)
            self._thread.join()
            self._thread = None


def spooled_rows(night_id: int, school_id: int | None, batch: int = READ_BATCH) -> Iterator[list[tuple[int, str]]]:
    """(step, payload) rows of one school (or the unrouted parents), in order, `batch` rows at a time.

    Keyset paging (no cursor held open between queries), so the night may write the spool while it reads it,
    on SQLite too; each query takes FETCH_BATCH rows (a school of 10,000 people in one), not one per page.
    """
    where = SPOOL.c.school_id.is_(None) if school_id is PARENTS else SPOOL.c.school_id == school_id
    fetch = max(batch, FETCH_BATCH)
    query = (db.select(SPOOL.c.step, SPOOL.c.id, SPOOL.c.payload).where(SPOOL.c.night_id == night_id, where)
             .order_by(SPOOL.c.step, SPOOL.c.id).limit(fetch))
    after = None
    while True:
        page = query if after is None else query.where(db.tuple_(SPOOL.c.step, SPOOL.c.id) > db.tuple_(*after))
        with db.engine.connect() as conn:
            rows = conn.execute(page).all()
        if not rows:
            return
        after = (rows[-1][0], rows[-1][1])
        for start in range(0, len(rows), batch):
            yield [(step, payload) for step, _, payload in rows[start:start + batch]]
        if len(rows) < fetch:
            return


def refile_parents(writer: SpoolWriter, targets: Iterator[tuple[int, int]]) -> None:
    """File the unrouted parents under their schools: `targets` is (n, school_id) for the n-th parent row (from 0,
    in the order they were spooled), n ascending. On PostgreSQL the rows are copied inside the database (only
    the pairs travel: a parent's payload is not read back and written again, which was most of the read's
    finish); elsewhere they are read back and written through the writer."""
    writer.flush()
    with db.engine.begin() as conn:
        postgres = conn.dialect.name == "postgresql"
        if postgres:
            driver = conn.connection.driver_connection
            with driver.cursor() as cursor:
                cursor.execute("CREATE TEMP TABLE spool_parent_target (n bigint, school_id integer) ON COMMIT DROP")
                with cursor.copy("COPY spool_parent_target (n, school_id) FROM STDIN") as copy:
                    for pair in targets:
                        copy.write_row(pair)
                # The numbering and the join sort every unrouted parent: at the default 4 MB they spilled to disk
                # (107,000 parents of a 200,000-person night: 1.1-2 s; with 256 MB, ~25% less). This transaction only.
                cursor.execute("SET LOCAL work_mem = '256MB'")
                cursor.execute(
                    "INSERT INTO spool_record (night_id, school_id, step, payload) "
                    "SELECT p.night_id, t.school_id, 0, p.payload FROM "
                    "(SELECT night_id, payload, row_number() OVER (ORDER BY id) - 1 AS n FROM spool_record "
                    " WHERE night_id = %s AND school_id IS NULL) p "
                    "JOIN spool_parent_target t ON t.n = p.n ORDER BY p.n, t.school_id", (writer.night_id,))
    if postgres:
        return
    targets = iter(targets)
    pending = next(targets, None)
    n = 0
    for rows in spooled_rows(writer.night_id, PARENTS, batch=FETCH_BATCH):
        for _, payload in rows:
            while pending is not None and pending[0] == n:
                writer.add(pending[1], 0, payload)
                pending = next(targets, None)
            n += 1
    writer.flush()


def delete_spool(night_id: int, school_id: int | None = None, *, everything: bool = False) -> None:
    """Drop one school's rows (or the unrouted parents' with PARENTS), or every row of the night."""
    query = db.delete(SpoolRecord).where(SpoolRecord.night_id == night_id)
    if not everything:
        query = query.where(SpoolRecord.school_id.is_(None) if school_id is PARENTS
                            else SpoolRecord.school_id == school_id)
    with db.engine.begin() as conn:
        conn.execute(query)


def reclaim_spool() -> None:
    """Once a night's rows are gone, let PostgreSQL reuse their space. A district night writes and deletes a row per
    person, and where autovacuum is off or behind (this machine's PostgreSQL runs with it off) every night's dead
    rows stayed on disk: the table grew by the district's size each night. VACUUM blocks no other night's COPY or
    read; a failure is only logged, the night's outcome does not hang on it."""
    if db.engine.dialect.name != "postgresql":
        return  # SQLite reuses a deleted row's pages by itself
    db.session.commit()  # this worker's own open transaction holds a snapshot older than the delete: VACUUM would keep it all
    try:
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(f"VACUUM {SPOOL.name}")
    except Exception as exc:  # noqa: BLE001 - a maintenance step; the night has ended whatever it does
        log.warning("could not vacuum the spool table: %s", exc)


class SpooledPages:
    """A run's roster pages read from its night's spool instead of the SIS (see jobs.sync.RosterPages)."""

    def __init__(self, night_id: int, since: datetime | None, read_started: datetime):
        self.night_id, self._since, self.read_started = night_id, since, read_started

    def since(self, conn: RosterConnection, run: SyncRun, now: datetime) -> datetime | None:
        """The night's read decides: full when any of its schools needed a full read, else its delta start."""
        return self._since

    @contextmanager
    def open(self, job, redactor, **_waits) -> Iterator[Iterator[tuple[str, list]]]:
        filed = db.session.scalar(db.select(SourceNightRun).filter_by(night_id=self.night_id, run_id=job.run_id))
        wanted = set(job.options.roles) | ({"parent"} if job.options.parents else set())
        if filed is None or filed.sis_school_id != job.settings.school_id or \
                not wanted <= set(filed.roles.split(",")):
            # The read filed other roles or another SIS school for it: planning from it could archive people
            # the read never looked for.
            raise SyncRefused(CHANGED_SINCE_READ)
        read = db.session.scalar(db.select(SourceNight.records_read).where(SourceNight.id == self.night_id)) or 0
        yield self._pages(job, read)

    def confirm(self, job, planner, redactor, tick, out_of_time) -> list:
        """Look up the people the night's read would have this school archive for being absent (jobs.confirm). The
        read ran in another job, so this takes a client of its own, made only when someone is absent: a night where
        nobody left sends nothing more to the SIS."""
        @contextmanager
        def client():
            with sync_job.make_client(job.settings) as made:
                redactor.include(made.redactor)
                yield made
        return confirm_leavers(planner, client, job.settings.school_id, tick=tick, out_of_time=out_of_time)

    def _pages(self, job, read: int) -> Iterator[tuple[str, list]]:
        labels = {step_of(roles): (label, frozenset(roles))
                  for label, roles in fetch_steps(job.options.roles, job.options.parents)}
        # A full read of the SIS's global listings that filed nobody at all for this school found none of its
        # people: as in its own sync (connectors.people.iter_roster), that is a wrong School ID, not an empty school,
        # and planning from it would archive everyone (staff-only schools read `users`, as their own sync does).
        guarded = [role for role in WHO if role in job.options.roles] if self._since is None else []
        found = False
        seen: set[str] = set()
        current, dates = None, None
        for rows in spooled_rows(self.night_id, job.school_id):
            for step, group in _by_step(rows):
                if step not in labels:
                    continue  # a record the night filed under a step this school does not read
                if step != current:
                    if dates is not None and dates.count:
                        yield labels[current][0], [dates.notice("users")]
                    current, dates = step, DateCheck(self.read_started)
                label, roles = labels[step]
                records = school_records(group, roles, job.settings.school_id, seen, dates)
                found = found or bool(records)
                yield label, records
        if dates is not None and dates.count:
            yield labels[current][0], [dates.notice("users")]
        if guarded and read and not found:
            who = " or ".join(WHO[role].lower() for role in guarded)
            raise SyncRefused(NOBODY_OF_SCHOOL.format(read=read, who=who, school=job.settings.school_id))


def _by_step(rows: list[tuple[int, str]]) -> Iterator[tuple[int, list[str]]]:
    start = 0
    for i in range(1, len(rows) + 1):
        if i == len(rows) or rows[i][0] != rows[start][0]:
            yield rows[start][0], [payload for _, payload in rows[start:i]]
            start = i
