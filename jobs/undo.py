"""Undo a sync: put back what one run changed, in bulk and all-or-nothing, leaving later changes alone.

What an undo does, from the run's change log (SyncChange before/after):
- people the run archived are restored, unless someone (a person or a later sync) archived or restored them since;
- field values the run changed are put back, only where the value is still what the run wrote;
- people the run restored are archived again, if they are still active;
- people the run created are archived (never deleted, so nothing is lost and a later sync can restore them), only
  if nothing changed them since (their row is as the run left it);
- links the run made between a hand-made person and an SIS record stay (the next sync would make them again).
Anyone who can sign in, or was excluded from sync since, is left alone. Everything left alone is recorded on the
undo run with the reason, one issue per change left alone (kind "left_alone").
"""
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone

from flask import current_app
from sqlalchemy import case, column, table, text

from store.db import db
from store.models import AuditEvent, Person, RosterConnection, School, SyncChange, SyncIssue, SyncRun
from store.vocabulary import field_label

from .apply import CHUNK, ID_CHUNK, _chunks, _insert_changes
from .bulk import bulk_insert
from .directory import in_district
from .fields import FIELDS, PARENT_FIELDS
from .history import record_role_counts
from .hold import percent_text
from .locks import SchoolLock
from .runs import NOTHING_CHANGED, SyncAlreadyRunning, active_run, finish_run, mark_stale_runs_failed, unforeseen
from .thresholds import DEFAULT_THRESHOLD

VALUE_FIELDS = FIELDS + PARENT_FIELDS
BIG_ID_CHUNK = 30000  # ids per UPDATE … IN on PostgreSQL (SQLite takes at most ID_CHUNK bound values)
CHANGED_SINCE = "changed since this sync (by a later sync or by hand in People)"
LEFT_KINDS = {"changed_since": "Changed again since this sync", "already_active": "Restored since this sync",
              "already_archived": "Archived since this sync", "archived_again": "Archived again since this sync",
              "signs_in": "Can sign in (never changed by SIS data)", "excluded": "Excluded from sync since",
              "gone": "No longer in the directory", "email_taken": "Old email now used by a sign-in account"}


class UndoRefused(Exception):
    """This run cannot be undone; the message says why and what to do instead."""


class UndoNeedsConfirmation(Exception):
    """The undo would archive more rostered people than the archive guard allows without an explicit yes."""


@dataclass
class UndoPlan:
    """What undoing one run would do, and what it leaves alone with the reason."""

    run_id: int
    school_id: int
    restores: list[int] = field(default_factory=list)               # archived by the run: make active again
    reverts: dict[int, dict[str, str]] = field(default_factory=dict)  # person id -> {field: value before the run}
    rearchives: list[int] = field(default_factory=list)             # restored by the run: archive again
    archives: list[int] = field(default_factory=list)               # created by the run: archive
    left: list[tuple] = field(default_factory=list)                 # (person_id, source_id, name, reason, kind)
    links_kept: int = 0
    rostered_total: int = 0
    log: list[dict] = field(default_factory=list)                   # the undo run's own change log
    threshold: float = DEFAULT_THRESHOLD

    @property
    def would_archive(self) -> int:
        return len(self.archives) + len(self.rearchives)

    @property
    def changes_anything(self) -> bool:
        return bool(self.restores or self.reverts or self.rearchives or self.archives)

    def guard_sentence(self) -> str | None:
        """Why the undo needs an explicit yes (it archives more than the school's threshold), else None."""
        if not self.would_archive or not self.rostered_total:
            return None
        share = 100 * self.would_archive / self.rostered_total
        if share <= self.threshold:
            return None
        return (f"Undoing this sync archives {self.would_archive:,} of {self.rostered_total:,} rostered people "
                f"({percent_text(share)}%), more than the {percent_text(self.threshold)}% archive threshold.")

    def left_counts(self) -> dict[str, int]:
        """How many changes stay, per kind of reason (LEFT_KINDS)."""
        counts: dict[str, int] = defaultdict(int)
        for *_, kind in self.left:
            counts[kind] += 1
        return dict(counts)


def refusal(run: SyncRun) -> str | None:
    """Why this run cannot be undone (a sentence for the page), or None when it can."""
    if run.trigger == "preview":
        return "A preview changes nothing, so there is nothing to undo."
    if run.trigger == "undo":
        return "This run was itself an undo. To bring back what it reversed, run a sync: it applies the SIS again."
    if run.status in ("queued", "running"):
        return "This sync has not finished yet. Wait for it to finish, then undo it if needed."
    if run.status == "needs_review":
        return ("This sync is waiting for review and has changed nothing yet. Discard it on the Rostering page "
                "instead of undoing it.")
    if run.status == "failed":
        return "This sync failed, and a failed sync changes nothing, so there is nothing to undo."
    if run.status != "succeeded":
        return "This sync did not run (it was skipped or discarded), so it changed nothing and there is nothing to undo."
    undone = undone_by(run)
    if undone is not None:
        return f"This sync was already undone by run #{undone.shown_number}; a sync can be undone once."
    return None


def undone_by(run: SyncRun) -> SyncRun | None:
    """The undo run that reversed this run, if one succeeded."""
    return db.session.scalar(db.select(SyncRun).where(SyncRun.undoes_run_id == run.id, SyncRun.trigger == "undo",
                                                      SyncRun.status == "succeeded").limit(1))


def _row(action, person_id, sid, name="", before="", after="") -> dict:
    return {"person_id": person_id, "source_id": sid, "action": action, "field": name, "before": before,
            "after": after}


# The changed field's value as it is now, in one column (not all twelve per row).
_NOW = case(*((SyncChange.field == name, getattr(Person, name)) for name in VALUE_FIELDS), else_=None)
_COLUMNS = (SyncChange.person_id, SyncChange.source_id, SyncChange.action, SyncChange.field, SyncChange.before,
            SyncChange.after, Person.id.label("pid"), Person.status, Person.archived_by, Person.archived_at,
            Person.updated_at, Person.sync_enabled, Person.can_sign_in.label("signs_in"), Person.given_name,
            Person.family_name, _NOW.label("now"))


def plan_undo(run: SyncRun) -> UndoPlan:
    """Read the run's change log joined to the people as they are now (one streamed query) and decide each row."""
    plan = UndoPlan(run.id, run.school_id)
    conn = db.session.scalar(db.select(RosterConnection).where(RosterConnection.school_id == run.school_id))
    plan.threshold = conn.archive_threshold_percent if conn else DEFAULT_THRESHOLD
    finished = run.finished_at
    query = (db.select(*_COLUMNS).select_from(SyncChange).outerjoin(Person, Person.id == SyncChange.person_id)
             .where(SyncChange.run_id == run.id, SyncChange.action != "skip").order_by(SyncChange.id))
    decided: set = set()  # people (or vanished source ids) left alone as a whole: one reason each
    emails: dict[int, tuple] = {}  # person id -> (email put back, source id, name), checked against sign-in accounts
    for row in db.session.execute(query.execution_options(yield_per=CHUNK)):
        _decide(plan, row, finished, decided, emails)
    _keep_sign_in_emails(plan, emails)
    plan.rostered_total = db.session.scalar(db.select(db.func.count(Person.id)).where(
        Person.school_id == run.school_id, Person.status == "active", Person.source_id.is_not(None))) or 0
    return plan


def _name(row) -> str:
    return " ".join(n for n in (row.given_name, row.family_name) if n) or row.source_id


def _leave(plan, row, reason: str, kind: str, decided: set | None = None) -> None:
    """Record what stays and why; with `decided`, the whole person stays (their other rows are not looked at)."""
    plan.left.append((row.pid, row.source_id, _name(row) if row.pid is not None else row.source_id, reason, kind))
    if decided is not None and row.pid is not None:
        decided.add(row.pid)


def _decide(plan: UndoPlan, row, finished: datetime, decided: set, emails: dict) -> None:
    if row.pid is not None and row.pid in decided:
        return
    if row.pid is None:
        if row.person_id is None and row.source_id in decided:
            return
        decided.add(row.source_id)
        return _leave(plan, row, "No longer in the directory: nothing to put back.", "gone")
    if row.signs_in:
        return _leave(plan, row, "Can sign in now: SIS data and undo never change such an account.", "signs_in",
                      decided)
    if not row.sync_enabled:
        return _leave(plan, row, "Excluded from sync in People since this sync: left as they are.", "excluded",
                      decided)
    if row.action == "create":
        if row.status != "active":
            return _leave(plan, row, "Already archived since this sync created them.", "already_archived")
        if row.updated_at > finished:
            return _leave(plan, row, f"Created by this sync but {CHANGED_SINCE}: kept.", "changed_since")
        plan.archives.append(row.pid)
        plan.log.append(_row("archive", row.pid, row.source_id, "status", "active", "archived"))
    elif row.action == "archive":
        if row.status == "active":
            return _leave(plan, row, "Already active again (restored since this sync).", "already_active")
        if row.archived_by != "sync" or (row.archived_at and row.archived_at > finished):
            by = "by hand" if row.archived_by == "manual" else "by a later sync"
            return _leave(plan, row, f"Archived again {by} since this sync: left archived.", "archived_again")
        plan.restores.append(row.pid)
        plan.log.append(_row("update", row.pid, row.source_id, "status", "archived", "active"))
    elif row.field == "source_id":
        plan.links_kept += 1
    elif row.field == "status":  # the run restored them
        if row.status != "active":
            return _leave(plan, row, "Archived again since this sync restored them: left archived.", "archived_again")
        plan.rearchives.append(row.pid)
        plan.log.append(_row("archive", row.pid, row.source_id, "status", "active", "archived"))
    elif row.field in VALUE_FIELDS:
        if row.now != row.after:
            return _leave(plan, row, f"{field_label(row.field)} is now “{row.now}”, {CHANGED_SINCE}: left as it is.",
                          "changed_since")
        plan.reverts.setdefault(row.pid, {})[row.field] = row.before
        plan.log.append(_row("update", row.pid, row.source_id, row.field, row.after, row.before))
        if row.field == "email" and row.before:
            emails[row.pid] = (row.before, row.source_id, _name(row))


def _keep_sign_in_emails(plan: UndoPlan, emails: dict[int, tuple]) -> None:
    """An old email that now belongs to a sign-in account of the district is not given back (one query per 1,000);
    another district's accounts do not count, as in a sync: naming or even minding them would tell the school who
    signs in there."""
    taken: dict[str, str] = {}
    district_id = db.session.scalar(db.select(School.district_id).where(School.id == plan.school_id))
    for chunk in _chunks(sorted({email for email, _, _ in emails.values()}), ID_CHUNK):
        for email, given, family in db.session.execute(
                db.select(Person.email, Person.given_name, Person.family_name)
                .outerjoin(School, School.id == Person.school_id)
                .where(Person.email.in_(chunk), Person.can_sign_in, in_district(district_id))):
            name = " ".join(n for n in (given, family) if n) or email
            taken[email] = f"the sign-in account of {name}"
    for pid, (email, sid, name) in emails.items():
        if email not in taken:
            continue
        del plan.reverts[pid]["email"]
        if not plan.reverts[pid]:
            del plan.reverts[pid]
        plan.log = [r for r in plan.log if not (r["person_id"] == pid and r["field"] == "email")]
        plan.left.append((pid, sid, name, f"Email “{email}” now belongs to {taken[email]}: "
                                          "not given back.", "email_taken"))


def _put_back_values(reverts: dict[int, dict[str, str]], now: datetime) -> None:
    """Set the old values: on PostgreSQL one UPDATE … FROM a COPY-filled temporary table (an UPDATE per person
    cost 6 s for 12,000 people here); elsewhere an executemany of UPDATEs by primary key."""
    if not reverts:
        return
    if db.session.connection().dialect.name != "postgresql":
        rows = [{"id": pid, **values, "updated_at": now} for pid, values in reverts.items()]
        for chunk in _chunks(rows, CHUNK):
            db.session.execute(db.update(Person), chunk)
        return
    names = [name for name in VALUE_FIELDS if any(name in values for values in reverts.values())]
    columns = ", ".join(f"{name} text" for name in names)  # names come from VALUE_FIELDS, never from input
    db.session.execute(text(f"CREATE TEMPORARY TABLE undo_values (id integer PRIMARY KEY, {columns}) ON COMMIT DROP"))
    bulk_insert(table("undo_values", column("id"), *(column(name) for name in names)),
                [{"id": pid, **{name: values.get(name) for name in names}} for pid, values in reverts.items()])
    # NULL in the table means "this field stays"; a value put back is never NULL ("" at most).
    assignments = ", ".join(f"{name} = COALESCE(t.{name}, person.{name})" for name in names)
    db.session.execute(text(f"UPDATE person SET {assignments}, updated_at = :now FROM undo_values t "
                            "WHERE person.id = t.id"), {"now": now})


def _set_status(ids: list[int], values: dict) -> None:
    size = BIG_ID_CHUNK if db.session.connection().dialect.name == "postgresql" else ID_CHUNK
    for chunk in _chunks(ids, size):
        db.session.execute(db.update(Person).where(Person.id.in_(chunk)).values(**values))


def _write(plan: UndoPlan, undo_id: int, now: datetime) -> None:
    """Every write of the undo, in the caller's transaction: people, the change log and the left-alone issues."""
    _put_back_values(plan.reverts, now)
    _set_status(plan.restores, {"status": "active", "archived_by": "", "archived_at": None, "updated_at": now})
    _set_status(plan.archives + plan.rearchives,
                {"status": "archived", "archived_by": "sync", "archived_at": now, "updated_at": now})
    _insert_changes({**row, "run_id": undo_id} for row in plan.log)
    for chunk in _chunks(plan.left, CHUNK):
        db.session.execute(db.insert(SyncIssue), [
            {"run_id": undo_id, "source_id": (sid or "")[:255], "kind": "left_alone", "message": f"{name}: {reason}"}
            for _, sid, name, reason, _ in chunk])


def undo_sync(run_id: int, actor_id: int | None, *, confirmed: bool = False) -> SyncRun:
    """Undo one run as a new run (trigger "undo") under the school's sync lock; all of it commits or none.

    Raises UndoRefused (with the reason), SyncAlreadyRunning, or UndoNeedsConfirmation when it would archive more
    than the archive threshold and `confirmed` is False. Returns the finished undo run.
    """
    run = db.session.get(SyncRun, run_id)
    reason = refusal(run)
    if reason:
        raise UndoRefused(reason)
    mark_stale_runs_failed(run.school_id)
    if active_run(run.school_id) is not None:
        raise SyncAlreadyRunning(active_run(run.school_id))
    stamp = datetime.now(timezone.utc)
    undo = SyncRun(school_id=run.school_id, trigger="undo", status="running", phase="applying", percent=50,
                   undoes_run_id=run.id, requested_by_id=actor_id, started_at=stamp, heartbeat_at=stamp)
    db.session.add(undo)
    db.session.commit()
    undo_id = undo.id
    lock = SchoolLock(current_app.redis, run.school_id, undo_id)
    if not lock.acquire():
        finish_run(undo_id, "skipped", f"Another sync of this school was running, so the undo did not start. "
                                       f"{NOTHING_CHANGED}")
        raise SyncAlreadyRunning(None)
    try:
        return _apply(run_id, undo_id, actor_id, confirmed)
    except (UndoRefused, UndoNeedsConfirmation):
        db.session.rollback()  # nothing was attempted: the user reads the reason at once, no run is left behind
        db.session.execute(db.delete(SyncRun).where(SyncRun.id == undo_id))
        db.session.commit()
        raise
    except BaseException as exc:
        db.session.rollback()
        finish_run(undo_id, "failed", f"The undo stopped unexpectedly ({type(exc).__name__}). "
                                      f"{unforeseen('Try the undo again')} {NOTHING_CHANGED}")
        raise
    finally:
        lock.release()


def _apply(run_id: int, undo_id: int, actor_id: int | None, confirmed: bool) -> SyncRun:
    run = db.session.get(SyncRun, run_id)
    reason = refusal(run)  # again under the lock: a second undo started at the same moment finds the first
    if reason:
        raise UndoRefused(reason)
    plan = plan_undo(run)
    if not plan.changes_anything:
        raise UndoRefused(_nothing_to_undo(plan))
    sentence = plan.guard_sentence()
    if sentence and not confirmed:
        raise UndoNeedsConfirmation(sentence + " Tick the box to confirm, then undo again.")
    now = datetime.now(timezone.utc)
    _write(plan, undo_id, now)
    # The next sync reads the whole roster again (no delta), so the directory and the SIS meet again.
    db.session.execute(db.update(RosterConnection).where(RosterConnection.school_id == run.school_id)
                       .values(last_full_sync_at=None))
    record_role_counts(undo_id, run.school_id)
    done = datetime.now(timezone.utc)
    db.session.execute(db.update(SyncRun).where(SyncRun.id == undo_id).values(
        status="succeeded", phase="done", percent=100, finished_at=done, heartbeat_at=done,
        updated=len(plan.reverts) + len(plan.restores), archived=plan.would_archive, issues=len(plan.left),
        rostered_total=plan.rostered_total, would_archive=plan.would_archive))
    actor = db.session.get(Person, actor_id) if actor_id else None
    undo = db.session.get(SyncRun, undo_id)
    AuditEvent.record(run.school, actor, "sync_undone",
                      f"Run #{undo.shown_number} undid run #{run.shown_number}: {summary(plan)}")
    db.session.commit()
    return undo


def _nothing_to_undo(plan: UndoPlan) -> str:
    if plan.left:
        return ("Everything this sync changed has been changed again since, so there is nothing left to undo "
                f"({len(plan.left):,} left alone).")
    return "This sync changed nobody's record, so there is nothing to undo."


def summary(plan: UndoPlan) -> str:
    """One line of what the undo does (the audit log and the confirmation use it)."""
    parts = [f"restored {len(plan.restores):,} archived", f"put back values of {len(plan.reverts):,}",
             f"archived {len(plan.archives):,} it created", f"archived again {len(plan.rearchives):,} it restored",
             f"left {len(plan.left):,} alone"]
    return ", ".join(parts) + "."


def undo_context(run: SyncRun) -> dict:
    """For a run's page: whether it can be undone, and the undo that reversed it."""
    undone = undone_by(run) if run.status == "succeeded" and run.trigger not in ("preview", "undo") else None
    undoes = db.session.get(SyncRun, run.undoes_run_id) if run.undoes_run_id else None
    return {"undone_by": undone, "undoable": undone is None and refusal(run) is None, "undoes": undoes}
