"""A district night: one read of a source's SIS for all its mapped schools, then one plan-and-apply job per school.

`start_night` records the night and a queued run per school and queues `read_night`. That job (one per source
at a time: a Redis lock that expires if its worker dies) reads each listing the schools need once, streams the
records into the spool by school (jobs.spool), then queues `plan_school` for every school on the sync queue,
so workers on any machine share the rest. Each school's run is an ordinary run (jobs.sync.run_sync) whose pages
come from the spool: its own lock, progress, guard, all-or-nothing apply, change log, issues and report. A read
that fails or stops part-way fails every school's run with nothing changed.
"""
import logging
import time
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timezone

from flask import current_app
from redis.exceptions import RedisError
from sqlalchemy.exc import IntegrityError

from connectors.district_read import AT_ORGS, NOT_A_RECORD, UNKNOWN_ROLE
from connectors.errors import ConnectorError
from connectors.packed import FS, GS, RS
from connectors.people import Step, read_in_full, since_filter
from connectors.reader_process import ReaderProcess, ReaderStopped
from connectors.records import ROLES
from connectors.redact import Redactor
from store.db import db
from store.models import (RUN_FINAL_STATUSES, Person, RosterConnection, School, Source, SourceNight, SourceNightRun,
                          SyncRun)

from .connection import NotConfigured, load_settings
from .fetch import fetch_steps
from .locks import LockLost, SchoolLock
from .outbound import outbound_policy
from .runs import JOB_TIMEOUT_MARGIN, NOTHING_CHANGED, SyncAlreadyRunning, create_run, finish_run, unforeseen
from .spool import (NOTICE, PARENTS, SpooledPages, SpoolWriter, delete_spool, reclaim_spool, refile_parents,
                    step_of)
from .sync import SyncRefused, choose_since, run_sync, too_slow_message

log = logging.getLogger(__name__)
READ_JOB = "jobs.district_night.read_night"
PLAN_JOB = "jobs.district_night.plan_school"
NOT_IN_NIGHT = "Not in this night: "  # schools left out at the start (their own sync running, not configured)
USERS_ONLY = frozenset({"staff", "school_admin", "parent"})  # roles only the global `users` listing holds
TARGETS_CACHED = 10_000  # (org ids, role) answers kept by a night's Router: bounded whatever orgs a SIS sends
PROGRESS_EVERY = 20  # pages between updates of the night's records_read
FINAL = RUN_FINAL_STATUSES
ROLE_STEP = {role: step_of({role}) for role in ROLES}  # the fetch step each role's records are filed under
READER_CLIENT: dict = {}  # OneRosterClient options for the reader process (the tests shorten its retries)


class SourceLock(SchoolLock):
    """SchoolLock's lease (expires if the worker dies, renewed per page) on a source: one night at a time."""

    def __init__(self, redis, source_id: int, night_id: int):
        super().__init__(redis, 0, night_id)
        self.key = f"portal:sync-lock:source:{source_id}"


@dataclass(frozen=True)
class Member:
    """One school of the night, as the read routes records to it."""

    school_id: int
    run_id: int
    sis_id: str  # lower-case SIS school id
    roles: frozenset[str]  # roles it reads, "parent" included when it syncs parent contact
    bit: int

    @property
    def steps(self) -> set[int]:
        return {step_of(roles) for _, roles in fetch_steps(self.roles, parents=False)}


# ---- starting a night ------------------------------------------------------------------------------------------
def mapped_connections(source_id: int) -> list[RosterConnection]:
    return list(db.session.scalars(db.select(RosterConnection).where(
        RosterConnection.source_id == source_id, RosterConnection.sis_school_id != "").order_by(
        RosterConnection.school_id)))


def start_night(source: Source, *, trigger: str = "nightly", local_date: date | None = None,
                enqueue: bool = True, actor: Person | None = None) -> SourceNight | None:
    """Record the night and a queued run per mapped school, then queue its read; None when that local date's
    night exists already (another dispatcher got there first). A "manual" night audits each school's run as
    started by `actor` (create_run's own audit)."""
    day = local_date.isoformat() if local_date else None
    night = SourceNight(source_id=source.id, local_date=day, trigger=trigger, status="queued", schools=0,
                        records_read=0, requests=0, error_message="", digest_status="")
    db.session.add(night)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return None
    night.job_id = f"source-night-{source.id}-{night.id}"
    skipped = []
    for conn in mapped_connections(source.id):
        if trigger == "nightly" and not conn.automatic:
            continue  # the school's own Automatic Rostering switch is off
        school = db.session.get(School, conn.school_id)
        if trigger == "nightly" and paused(school, local_date):
            continue
        try:
            run = create_run(school, trigger=trigger, local_date=day, actor=actor)
        except (SyncAlreadyRunning, NotConfigured) as exc:
            skipped.append(f"{school.name}: {exc}")
            continue
        run.job_id = night.job_id  # until its plan job is queued, the run lives (and dies) with the read
        db.session.add(SourceNightRun(night_id=night.id, run_id=run.id, school_id=school.id))
        night.schools += 1
    if skipped:
        night.error_message = NOT_IN_NIGHT + " ".join(skipped)
    db.session.commit()
    if enqueue:
        timeout = int(current_app.config["SYNC_MAX_MINUTES"] * 60) + JOB_TIMEOUT_MARGIN
        try:
            current_app.sync_queue.enqueue(READ_JOB, night.id, job_id=night.job_id, job_timeout=timeout,
                                           result_ttl=86400, failure_ttl=7 * 86400)
        except RedisError:  # no worker will ever read it: end it now, or it would block the next night
            _fail_night(night.id, "failed", f"The night could not be queued (the job queue is down). {NOTHING_CHANGED}")
            raise
    return night


class NightAlreadyRunning(Exception):
    """A night of this source is queued or running: one night per source at a time."""

    def __init__(self, night: SourceNight):
        super().__init__(f"A night of this source is already {'queued' if night.status == 'queued' else 'running'}"
                         f" (started {night.created_at:%H:%M} UTC): wait for it to end, then run it again.")
        self.night = night


def open_night(source_id: int) -> SourceNight | None:
    """The source's night that has not ended yet, if any."""
    return db.session.scalar(db.select(SourceNight).where(SourceNight.source_id == source_id,
                                                          SourceNight.finished_at.is_(None))
                             .order_by(SourceNight.id.desc()).limit(1))


def start_night_now(source: Source, actor: Person) -> SourceNight:
    """A District Manager's "Run tonight's sync now": the dispatcher's start_night on the worker, as a "manual"
    night. Its local_date is None, so uq_source_night_local_date (NULLs are distinct) leaves tonight's scheduled
    night free to run. Refused with NightAlreadyRunning while a night of the source is open; two presses at once
    queue one night (the source row's lock orders them, and start_night commits the first night before the
    second looks). Raises RedisError when the queue is down."""
    current_app.redis.ping()  # before any row: a queue that is down leaves nothing behind
    db.session.execute(db.select(Source.id).where(Source.id == source.id).with_for_update())
    running = open_night(source.id)
    if running is not None:
        db.session.rollback()
        raise NightAlreadyRunning(running)
    return start_night(source, trigger="manual", actor=actor)


def paused(school: School, day: date | None) -> bool:
    """A seasonal pause covers `day` for this school (the dispatcher's rule; the skipped run is recorded once)."""
    from .schedule import _skip_for_blackout  # the dispatcher's own rule (records the skipped run once)
    return day is not None and _skip_for_blackout(school, day, datetime.now(timezone.utc))


# ---- the read --------------------------------------------------------------------------------------------------
def night_runs(night_id: int) -> list[SyncRun]:
    return list(db.session.scalars(db.select(SyncRun).join(SourceNightRun, SourceNightRun.run_id == SyncRun.id)
                                   .where(SourceNightRun.night_id == night_id).order_by(SyncRun.school_id)))


def _claim(night_id: int) -> bool:
    with db.engine.begin() as conn:
        result = conn.execute(db.update(SourceNight).where(SourceNight.id == night_id,
                                                           SourceNight.status == "queued")
                              .values(status="reading", started_at=datetime.now(timezone.utc)))
    return result.rowcount == 1


def read_night(night_id: int, *, inline: bool = False) -> None:
    """RQ job: read the source's SIS once into the spool, then queue (or, inline, run) each school's plan."""
    db.session.expire_all()
    night = db.session.get(SourceNight, night_id)
    if night is None or not _claim(night_id):
        log.info("source night %s not started: %s", night_id, "missing" if night is None else night.status)
        return
    lock = SourceLock(current_app.redis, night.source_id, night_id)
    if not lock.acquire():
        _fail_night(night_id, "skipped", "Another night of this district's SIS was already running, so this one "
                                         f"did not start. {NOTHING_CHANGED}")
        return
    try:
        with Redactor().active() as redactor:
            try:
                members, since = _members(night_id, redactor)
                if not members:
                    _settle(night_id)
                    return
                _read(night_id, members, since, lock)
            except (ConnectorError, NotConfigured, SyncRefused, LockLost) as exc:
                db.session.rollback()
                log.warning("source night %s read failed: %s", night_id, exc)
                said = str(exc)  # most errors say themselves that nothing was changed
                _fail_night(night_id, "failed", f"Reading the district's SIS failed, so no school of this night "
                                                f"was changed: {said}"
                            + ("" if "nothing was changed" in said.lower() else f" {NOTHING_CHANGED}"))
                return
            except Exception as exc:  # noqa: BLE001 - any bug must end the night readably
                db.session.rollback()
                log.exception("source night %s stopped unexpectedly", night_id)
                again = unforeseen("Run the night again", "the source's name and the night's date")
                kind = exc.kind if isinstance(exc, ReaderStopped) else type(exc).__name__
                _fail_night(night_id, "failed", f"The district night stopped unexpectedly ({kind}) "
                                                f"while reading the SIS. {again} {NOTHING_CHANGED}")
                return
    finally:
        lock.release()
    _fan_out(night_id, inline)


def _members(night_id: int, redactor: Redactor) -> tuple[list[Member], datetime | None]:
    """The night's schools (runs still queued) and where the read starts: full if any school needs it."""
    members, starts = [], []
    now = datetime.now(timezone.utc)
    for run in night_runs(night_id):
        if run.status != "queued":
            continue
        conn = db.session.scalar(db.select(RosterConnection).filter_by(school_id=run.school_id))
        settings = load_settings(conn, outbound_policy())
        redactor.add(settings.client_secret, settings.client_id)
        roles = frozenset(conn.enabled_roles) | ({"parent"} if conn.sync_parents else frozenset())
        members.append(Member(run.school_id, run.id, settings.school_id.strip().lower(), roles, 1 << len(members)))
        starts.append(choose_since(conn, run, now))
        db.session.execute(db.update(SourceNightRun).where(SourceNightRun.night_id == night_id,
                                                           SourceNightRun.run_id == run.id)
                           .values(roles=",".join(sorted(roles)), sis_school_id=settings.school_id))
    db.session.commit()
    since = None if not starts or any(s is None for s in starts) else min(starts)
    return members, since


def district_steps(members: list[Member]) -> list[Step]:
    """The listings the night reads: `users` once when any school needs staff, admins or parents (it holds
    everyone), else the global students and/or teachers listings (`users` only if one is refused)."""
    wanted = frozenset().union(*(m.roles for m in members))
    if wanted & USERS_ONLY:
        return [Step(wanted, ("users",))]
    return [Step(frozenset({role}), (collection, "users"))
            for role, collection in (("student", "students"), ("teacher", "teachers")) if role in wanted]


def _read(night_id, members, since, lock) -> None:
    """Read the SIS in a child process (connectors.reader_process: it decodes and packs on one core while this one
    routes and spools) and file every record it hands over; complete, or it raises."""
    first = db.session.scalar(db.select(RosterConnection).filter_by(school_id=members[0].school_id))
    settings = load_settings(first, outbound_policy())
    writer = SpoolWriter(night_id)
    router = Router(members, writer)
    limit = current_app.config["SYNC_MAX_MINUTES"]
    deadline = time.monotonic() + limit * 60
    db.session.execute(db.update(SourceNight).where(SourceNight.id == night_id).values(since=since))
    db.session.commit()
    pages = 0

    def on_time() -> None:  # per page, and while the child is quiet (a slow SIS)
        lock.renew_if_due()  # per page, Redis round trips took 7% of the read
        if time.monotonic() > deadline:
            raise SyncRefused(too_slow_message(limit, router.read))

    delete_spool(night_id, everything=True)  # a redelivered job starts from an empty spool
    spec = {"settings": settings, "policy": outbound_policy(), "steps": district_steps(members),
            "filter": since_filter(since), "parents": bool(router.want_parents), "client": READER_CLIENT,
            "seconds_left": deadline - time.monotonic()}  # a wait the SIS asks for must end before the deadline
    try:
        with ReaderProcess(spec) as reader:
            for message in reader.messages(idle=on_time):
                if message[0] == "unfiltered":
                    router.read_in_full(*message[1:])
                    continue
                _, records, payloads, heads = message
                router.file(payloads, heads, records)
                pages += 1
                on_time()
                if pages % PROGRESS_EVERY == 0:
                    progress = _progress(night_id, router.read, reader.requests)
                    if not writer.also(progress):
                        with db.engine.begin() as conn:
                            conn.execute(progress)
            requests = reader.requests
        lock.renew()  # a read that lost its lock meanwhile must not hand its spool to the schools
        router.finish()
    finally:
        writer.close()  # after a failure: no batch is still being written when the night's spool is emptied
    _note(night_id, records_read=router.read, requests=requests, status="planning",
          read_at=datetime.now(timezone.utc))


def _note(night_id: int, **values) -> None:
    with db.engine.begin() as conn:
        conn.execute(db.update(SourceNight).where(SourceNight.id == night_id).values(**values))


def _progress(night_id: int, read: int, requests: int):
    """The read's progress note; never back to a smaller count (a note that went with a slow batch may commit
    after a later one the read wrote itself)."""
    return (db.update(SourceNight).where(SourceNight.id == night_id, SourceNight.records_read <= read)
            .values(records_read=read, requests=requests))


class Router:
    """Files each raw record under the schools it belongs to (by `orgs`), parents under the schools whose
    students they are agents of (from either side of `agents`), with memory bounded by two small int maps."""

    def __init__(self, members: list[Member], writer: SpoolWriter):
        self.writer, self.members = writer, members
        self.by_sis: dict[str, list[Member]] = {}
        for member in members:
            self.by_sis.setdefault(member.sis_id, []).append(member)
        self.first_step = {m.school_id: min(m.steps) for m in members}
        self.want_parents = [m for m in members if "parent" in m.roles]
        self.parent_bits: dict[int, int] = {}   # hash(parent sourcedId) → schools whose students name them
        self.student_bits: dict[int, int] = {}  # hash(student sourcedId) → schools with parents that student
        # The spooled parents in spool order: hash(sourcedId), and where their hash(agent)s start in `agents` (flat
        # int arrays: no object per parent, ~24 bytes each where a tuple of tuples took ~200 at 1,000,000 people).
        self.parents, self.agent_start, self.agents = array("q"), array("q"), array("q")
        self.read = 0
        self._targets: dict[tuple[str, str], tuple] = {}  # (org ids as packed, role) → _targets_for's answer

    def file(self, payloads: str, heads: dict[int, tuple], records: int) -> None:
        """File one page as connectors.district_read.read_page handed it over (`records`: the page's size). A "P"
        payload says the role, orgs, agents and sourcedId itself; the others come with a head."""
        self.read += records
        if not payloads:
            return
        add, cached = self.writer.add, self._targets
        for i, text in enumerate(payloads.split(GS)):
            if heads and i in heads:
                kind, role, orgs, agents, sid = heads[i][:5]
                if kind == AT_ORGS:
                    self._file_at_orgs(heads[i], text)
                    continue
                if kind:  # not PERSON
                    self._file_unreadable(kind, role, orgs, agents, sid, text)
                    continue
                key = None  # rare (JSON payloads): not cached, so no org id holding an RS meets a "P" key
            else:
                parts = text.split(FS, 15)  # connectors.packed.pack_record's fields
                sid, role, orgs, agents = parts[1], parts[2], parts[13], parts[14]
                key, orgs = (orgs, role), tuple(orgs.split(RS)) if orgs else ()
                agents = tuple(agents.split(RS)) if agents else ()
            if role == "parent":
                self._spool_parent(text, sid, agents)
                continue
            found = cached.get(key) if key is not None else None
            if found is None:
                found = self._targets_for(orgs, role, key)
            if not found[0]:
                continue
            for school_id, step in found[0]:
                add(school_id, step, text)
            if found[1]:
                self._note_student(sid, found[1], agents)

    def _targets_for(self, orgs: tuple[str, ...], role: str, key: tuple | None = None
                     ) -> tuple[tuple[tuple[int, int], ...], int]:
        """((school_id, step) to file a person of `role` in `orgs` under, the schools that want their parents);
        kept under `key` (the orgs as one text, and the role) while the cache has room."""
        targets = [m for org in orgs for m in self.by_sis.get(org.lower(), ()) if role in m.roles]
        members = dict.fromkeys(targets)  # a person listed twice under one school's org goes once
        found = (tuple((m.school_id, ROLE_STEP[role]) for m in members),
                 sum(m.bit for m in members if role == "student" and "parent" in m.roles))
        if key is not None and len(self._targets) < TARGETS_CACHED:  # nearly everyone: a few keys
            self._targets[key] = found
        return found

    def read_in_full(self, roles: frozenset[str], path: str, why: str) -> None:
        """The SIS refused the delta filter on `path`, so it was read whole: each school that reads any of `roles`
        from it gets the notice its own sync would give (connectors.people.read_in_full), once per listing."""
        for member in self.members:
            concerned = member.roles & roles
            if not concerned:
                continue
            notice = read_in_full(concerned, path, why)
            first = min(concerned - {"parent"} or concerned, key=ROLES.index)
            self.writer.add(member.school_id, ROLE_STEP[first], NOTICE + notice.message)

    def _file_at_orgs(self, head: tuple, text: str) -> None:
        """A 1.2 person whose role differs by org: each school of their orgs files them by the role held there."""
        _, role, orgs, agents, sid, at = head
        if role == "parent" and not any(r and r != "parent" for r in at.values()):
            self._spool_parent(text, sid, agents)
            return
        targets, bits = {}, 0
        for org in orgs:
            here = at.get(org.lower(), role)
            if here == UNKNOWN_ROLE:  # filed so that the school's run reports it (connectors.people._keep)
                for member in self.by_sis.get(org.lower(), ()):
                    targets.setdefault(member.school_id, self.first_step[member.school_id])
                continue
            if here is None or here == "parent":
                continue
            for member in self.by_sis.get(org.lower(), ()):
                if here in member.roles and member.school_id not in targets:
                    targets[member.school_id] = ROLE_STEP[here]
                    if here == "student" and "parent" in member.roles:
                        bits |= member.bit
        for school_id, step in targets.items():
            self.writer.add(school_id, step, text)
        if bits:
            self._note_student(sid, bits, agents)

    def _note_student(self, sid: str, bits: int, agents: tuple[str, ...]) -> None:
        sid = hash(sid)
        self.student_bits[sid] = self.student_bits.get(sid, 0) | bits
        parent_bits = self.parent_bits
        for agent in agents:
            parent_bits[hash(agent)] = parent_bits.get(hash(agent), 0) | bits

    def _spool_parent(self, text: str, sid: str, agents) -> None:
        self.writer.add(PARENTS, 0, text)
        # In the spool's order, so finish() routes each row without parsing it again.
        self.parents.append(hash(sid))
        self.agent_start.append(len(self.agents))
        self.agents.extend(map(hash, agents))

    def _file_unreadable(self, kind: str, role, orgs, agents, sid: str, text: str) -> None:
        """A record normalise_user refuses: each school whose own read would report it gets the raw record."""
        writer = self.writer
        if kind == NOT_A_RECORD:  # a school's own read reports such a record: so does each school's
            for member in self.members:
                writer.add(member.school_id, self.first_step[member.school_id], text)
            return
        if role == "parent":
            self._spool_parent(text, sid, agents)
            return
        if role is not None:
            targets, bits = self._targets_for(orgs, role)
        else:  # no role to file it under: each school of its orgs reports it in the first listing it reads
            members = dict.fromkeys(m for org in orgs for m in self.by_sis.get(org.lower(), ()))
            targets, bits = tuple((m.school_id, self.first_step[m.school_id]) for m in members), 0
        for school_id, step in targets:
            writer.add(school_id, step, text)
        if bits:
            self._note_student(sid, bits, agents)

    def finish(self) -> None:
        """After a complete read: give each parent to the schools that need them (read_night drops the unrouted
        copies once the schools are queued)."""
        writer = self.writer
        writer.flush()
        refile_parents(writer, self._parent_schools())
        self.parents, self.agent_start, self.agents = array("q"), array("q"), array("q")
        self.parent_bits.clear()
        self.student_bits.clear()

    def _parent_schools(self) -> Iterator[tuple[int, int]]:
        """(n, school_id) for the n-th spooled parent (from 0, in spool order) and each school that wants them, in
        the schools' order (a school's bit is 1 << its place in the night, and only schools that want parents
        set bits, so the set bits are read lowest first instead of testing every school per parent)."""
        parent_bits, student_bits, agents = self.parent_bits, self.student_bits, self.agents
        school_of = {member.bit: member.school_id for member in self.want_parents}
        ends = self.agent_start[1:]
        ends.append(len(agents))
        for n, (sid, start, end) in enumerate(zip(self.parents, self.agent_start, ends)):
            bits = parent_bits.get(sid, 0)
            for i in range(start, end):  # the parent's students, usually one
                bits |= student_bits.get(agents[i], 0)
            while bits:
                low = bits & -bits
                yield n, school_of[low]
                bits ^= low


# ---- fan-out and the schools' runs ------------------------------------------------------------------------------
def _fan_out(night_id: int, inline: bool) -> None:
    """Queue (or, inline, run) the schools; the parents' unrouted copies are dropped after the schools are queued,
    so other workers start on them meanwhile (deleting 107,000 rows took ~1 s at 200,000 people, on the read's
    critical path before). A reader that dies before dropping them leaves them to the night's final clean-up."""
    runs = [run for run in night_runs(night_id) if run.status == "queued"]
    if inline:
        delete_spool(night_id, PARENTS)
        for run in runs:
            plan_school(run.id, night_id)
        return
    try:
        enqueue_school_runs(runs, night_id, PLAN_JOB)
    finally:
        delete_spool(night_id, PARENTS)


def enqueue_school_runs(runs: list[SyncRun], night_id: int, job: str) -> None:
    """Queue one `job(run_id, night_id)` per school run of a night (an API night's plan_school, a CSV source's
    bundle run), with the job ids on the rows first."""
    timeout = int(current_app.config["SYNC_MAX_MINUTES"] * 60) + JOB_TIMEOUT_MARGIN
    for run in runs:
        run.job_id = f"sync-school-{run.school_id}-run-{run.id}-night-{night_id}"
    db.session.commit()  # job ids on the rows before a fast worker looks for them
    for run in runs:
        current_app.sync_queue.enqueue(job, run.id, night_id, job_id=run.job_id, job_timeout=timeout,
                                       result_ttl=86400, failure_ttl=7 * 86400)


def plan_school(run_id: int, night_id: int) -> None:
    """RQ job: one school's run of the night, planned from the spool and applied like any other run."""
    db.session.expire_all()
    night = db.session.get(SourceNight, night_id)
    run = db.session.get(SyncRun, run_id)
    try:
        if night is not None and run is not None:
            run_sync(run_id, pages=SpooledPages(night_id, night.since, night.started_at))
    finally:
        if run is not None:
            delete_spool(night_id, run.school_id)
        _settle(night_id)


def _fail_night(night_id: int, status: str, message: str) -> None:
    """Every school's run still waiting ends with the message (and its report); the spool is emptied."""
    for run in night_runs(night_id):
        if run.status == "queued":
            finish_run(run.id, status, message)
            from .sync import _send_report
            _send_report(run.id)
    _note(night_id, status=status, error_message=message, finished_at=datetime.now(timezone.utc))
    delete_spool(night_id, everything=True)
    reclaim_spool()
    _send_digest(night_id)


NO_SCHOOL = "No school took part: none is mapped to this source (or each was left out), so nothing synced. Map schools first."


def _settle(night_id: int) -> bool:
    """When every run of the night is final: the night's outcome, an empty spool and (once) the digest."""
    db.session.expire_all()
    # Statuses only, not run rows: each of a 100-school night's jobs asks this once.
    statuses = db.session.scalars(db.select(SyncRun.status).join(SourceNightRun, SourceNightRun.run_id == SyncRun.id)
                                  .where(SourceNightRun.night_id == night_id)).all()
    if any(status not in FINAL for status in statuses):
        return False
    night = db.session.get(SourceNight, night_id)
    # A school left out at the start did not get this night: "succeeded" read as if every school had.
    complete = not (night.error_message or "").startswith(NOT_IN_NIGHT)
    values = {"status": "succeeded" if complete and all(status == "succeeded" for status in statuses)
              else "problems"}
    if not statuses:
        # The page polled to a bare "Skipped" once the notice had gone: say why, where the night is shown
        values.update(status="skipped", error_message=night.error_message or NO_SCHOOL)
    elif night.read_at is None:  # its runs ended (failed as stale) before the read did: the reader died
        values.update(status="failed", error_message="The worker reading the district's SIS stopped before the "
                                                     f"read was complete, so no school was changed. {NOTHING_CHANGED}")
    with db.engine.begin() as conn:
        done = conn.execute(db.update(SourceNight).where(SourceNight.id == night_id,
                                                         SourceNight.finished_at.is_(None))
                            .values(finished_at=datetime.now(timezone.utc), **values)).rowcount
    if done:
        delete_spool(night_id, everything=True)
        reclaim_spool()
        _send_digest(night_id)
    return bool(done)


def settle_nights() -> list[int]:
    """The dispatcher's tick: end nights whose runs all ended without the night noticing (a worker died)."""
    open_nights = db.session.scalars(db.select(SourceNight.id).where(SourceNight.finished_at.is_(None))).all()
    return [night_id for night_id in open_nights if night_runs(night_id) and _settle(night_id)]


def _send_digest(night_id: int) -> None:
    from .digest import send_night_digest  # the digest email; never fails the night
    send_night_digest(night_id)


# ---- running a night now (CLI) ------------------------------------------------------------------------------
def run_night_now(source: Source) -> SourceNight:
    """The source's night, inline in this process (`roster sync --district`)."""
    night = start_night(source, trigger="cli", enqueue=False)
    read_night(night.id, inline=True)
    db.session.expire_all()
    return db.session.get(SourceNight, night.id)


def settle_night(night_id: int) -> bool:
    """The night's outcome once its last run ended (a district CSV source's night: jobs.bundle_nights)."""
    return _settle(night_id)
