"""Plan a sync: compare the incoming roster, page by page, with the directory index; write nothing."""
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from connectors.records import PersonRecord, RecordProblem, RosterNotice
from store.db import db
from store.models import Person, ROSTER_MANAGER_ROLES

from .directory import AMBIGUOUS, DirectoryIndex, Entry
from .fields import EMAIL, SIS_ID, pack, record_values, with_role
from .parents import ParentBook

Issue = tuple[str, str, str]  # (source_id, kind, message)
DIFF_CHUNK = 1000


@dataclass(frozen=True)
class SyncOptions:
    """The connection's settings as the planner applies them to one run."""

    roles: frozenset[str]
    parents: bool = False
    auto_update: bool = False
    archive: bool = False
    full: bool = True
    no_update_roles: frozenset[str] = frozenset()   # Auto update never changes (or restores) these roles
    no_archive_roles: frozenset[str] = frozenset()  # Archive never removes these roles

    def may_update(self, role: str) -> bool:
        return self.auto_update and role not in self.no_update_roles

    @property
    def compare_parents(self) -> bool:
        """Parent fields are only compared on full fetches (a delta lacks unchanged guardians)."""
        return self.parents and self.full


@dataclass
class SyncPlan:
    """What a run would do; rows are compact tuples until apply turns them into dicts in chunks."""

    fields: tuple[str, ...]
    creates: list[tuple] = field(default_factory=list)   # (source_id, packed values, source_updated_at)
    updates: list[tuple] = field(default_factory=list)   # (person_id, source_id, values, updated_at, restore)
    links: list[tuple] = field(default_factory=list)     # (person_id, source_id, values | None, updated_at)
    archives: list[tuple] = field(default_factory=list)  # (person_id, source_id)
    counts: Counter = field(default_factory=Counter)     # fetched, skipped, unchanged, issues
    diffs: dict[int, list[tuple[str, str, str]]] = field(default_factory=dict)  # person_id → (field, before, after)
    rostered_total: int = 0
    high_water: datetime | None = None

    def totals(self) -> dict[str, int]:
        return {"fetched": self.counts["fetched"], "created": len(self.creates), "updated": len(self.updates),
                "linked": len(self.links), "skipped": self.counts["skipped"],
                "unchanged": self.counts["unchanged"], "archived": len(self.archives),
                "issues": self.counts["issues"]}


class Planner:
    """Feed it pages (parents first), then `finish()`; it holds the index, never ORM objects."""

    def __init__(self, directory: DirectoryIndex, options: SyncOptions, fields: tuple[str, ...]):
        self.directory, self.options = directory, options
        self.parents = ParentBook()
        # People of roles never archived do not count toward the archive guard's share.
        archivable = sum(n for role, n in directory.active_by_role.items() if role not in options.no_archive_roles)
        self.plan = SyncPlan(fields=fields, rostered_total=archivable)
        # hashes, not strings: 100k of them cost a few MB (a 64-bit collision is not a practical risk)
        self.seen: set[int] = set()
        self.emails: dict[int, str] = {}  # new records' emails → the first such record's source_id
        self.duplicates: list[tuple] = []  # this page's (issue index, who, field, value, person id)

    def add_page(self, page: list) -> list[Issue]:
        """Plan one page; returns the page's issues so they can be stored with the progress."""
        issues: list[Issue] = []
        for item in page:
            if isinstance(item, RosterNotice):  # how the roster was read (a fallback listing, unreadable dates)
                issues.append(("", item.kind, item.message))
            elif isinstance(item, RecordProblem):
                self._problem(item, issues)
            elif item.role == "parent":
                self.parents.add(item)
            else:
                self._person(item, issues)
        if self.duplicates:
            self._name_duplicates(issues)
        self.plan.counts["issues"] += len(issues)
        return issues

    def _problem(self, problem: RecordProblem, issues: list[Issue]) -> None:
        # A broken record is still "seen": its person must not be archived for being missing.
        if problem.source_id:
            self.seen.add(hash(problem.source_id))
            self.directory.rostered.pop(problem.source_id, None)
        issues.append((problem.source_id, "bad_record", f"{problem.message} Record: {problem.raw_excerpt}"))

    def _person(self, record: PersonRecord, issues: list[Issue]) -> None:
        plan, sid = self.plan, record.source_id
        if hash(sid) in self.seen:
            issues.append((sid, "duplicate_source_id", f"The SIS sent {sid} twice; only the first copy was used."))
            return
        self.seen.add(hash(sid))
        plan.counts["fetched"] += 1
        modified = record.date_last_modified
        if modified and (plan.high_water is None or modified > plan.high_water):
            plan.high_water = modified
        contact = None
        if self.options.compare_parents:
            contact = self.parents.contact_for(record.agent_ids, sid) if record.role == "student" else ("", "", "")
        values = record_values(record, contact)
        entry = self.directory.rostered.pop(sid, None)
        if entry is None:
            self._new_person(record, values, issues)
        else:
            self._known_person(record, entry, with_role(values, entry.role), issues)

    def _new_person(self, record: PersonRecord, values: tuple, issues: list[Issue]) -> None:
        plan, sid = self.plan, record.source_id
        if record.is_leaving:
            plan.counts["skipped"] += 1
            return
        email = values[EMAIL]
        email_hash = hash(email) if email else None
        earlier = self.emails.setdefault(email_hash, sid) if email else sid
        if earlier != sid:
            issues.append((sid, "possible_duplicate", f"Possible duplicate: {_who(record)} was not added because "
                           f"another SIS record in this sync ({earlier}) has the same email {email}. Give each person "
                           "their own email in the SIS, then sync again."))
            plan.counts["skipped"] += 1
            return
        duplicate = self._duplicate_of(email, email_hash, values[SIS_ID])
        if duplicate is not None:
            self.duplicates.append((len(issues), _who(record), *duplicate))
            issues.append((sid, "possible_duplicate", ""))  # worded in _name_duplicates, once per page
            plan.counts["skipped"] += 1
            return
        match = self.directory.by_email.pop(email, None) if email else None
        if match is not None:
            self._link(record, match, values, issues)
            return
        plan.creates.append((sid, pack(values), record.date_last_modified))

    def _duplicate_of(self, email: str, email_hash: int | None, sis_id: str) -> tuple[str, str, int] | None:
        """(field, value, person id) when a record with a new sourcedId looks like someone already here."""
        directory = self.directory
        if email and (pid := directory.emails.get(email_hash)) is not None:
            return "email", email, pid
        if not sis_id:
            return None
        if (pid := directory.sis_ids.get(hash(sis_id))) is not None:
            return "SIS id", sis_id, pid
        pid = directory.hand_sis_ids.get(hash(sis_id))
        link = directory.by_email.get(email) if email else None
        if pid is not None and link != AMBIGUOUS and (link is None or link.id != pid):
            return "SIS id", sis_id, pid  # a hand-made person this record would not link to by email
        return None

    def _name_duplicates(self, issues: list[Issue]) -> None:
        """Word this page's duplicate issues with the matching people's names (one query; duplicates are rare)."""
        ids = {duplicate[-1] for duplicate in self.duplicates}
        names = {row.id: row for row in db.session.execute(
            db.select(Person.id, Person.given_name, Person.family_name, Person.status, Person.source_id)
            .where(Person.id.in_(ids)))}
        db.session.commit()  # hold no transaction open during the fetch
        for index, who, field_name, value, pid in self.duplicates:
            row = names.get(pid)
            if row is None:
                name = "another person"
            else:
                notes = [n for n, on in (("archived", row.status != "active"),
                                         ("added by hand", row.source_id is None)) if on]
                name = f"{row.given_name} {row.family_name}".strip() + (f" ({', '.join(notes)})" if notes else "")
            message = (f"Possible duplicate: {who} was not added because the {field_name} {value} already "
                       f"belongs to {name} in People. If they are one person, the SIS has them twice; if not, "
                       f"fix the {field_name} in the SIS or in People, then sync again.")
            issues[index] = (issues[index][0], "possible_duplicate", message)
        self.duplicates.clear()

    def _link(self, record: PersonRecord, match: Entry | str, values: tuple, issues: list[Issue]) -> None:
        plan, sid, email = self.plan, record.source_id, values[EMAIL]
        if match == AMBIGUOUS:
            issues.append((sid, "ambiguous_link", f"Several people here have the email {email}, so {sid} was "
                           "not linked or created; give them distinct emails."))
            plan.counts["skipped"] += 1
        elif match.status != "active":
            issues.append((sid, "archived_here", f"{email} was archived here but is active in the SIS; "
                           "restore them by hand to sync them again."))
            plan.counts["skipped"] += 1
        elif not match.sync_enabled:
            plan.counts["skipped"] += 1
        else:
            update = with_role(values, match.role) if self.options.may_update(match.role) else None
            plan.links.append((match.id, sid, update, record.date_last_modified))

    def _known_person(self, record: PersonRecord, entry: Entry, values: tuple, issues: list[Issue]) -> None:
        plan, options = self.plan, self.options
        if not entry.sync_enabled:
            plan.counts["skipped"] += 1
        elif record.is_leaving:
            if entry.status != "active":
                plan.counts["unchanged"] += 1
            elif self._may_archive(entry):
                plan.archives.append((entry.id, record.source_id))
            else:
                plan.counts["skipped"] += 1
        elif entry.status != "active" and entry.archived_by != "sync":
            issues.append((record.source_id, "archived_here", f"{record.given_name} {record.family_name} was "
                           "archived here but is active in the SIS; restore them by hand to sync them again."))
            plan.counts["skipped"] += 1
        elif entry.status == "active" and hash(values) == entry.digest:
            plan.counts["unchanged"] += 1
        elif not options.may_update(entry.role):
            plan.counts["skipped"] += 1
        else:
            plan.updates.append((entry.id, record.source_id, values, record.date_last_modified,
                                 entry.status != "active"))
            if values[EMAIL]:  # a new record later in this run must not take the email this person gets
                self.directory.emails.setdefault(hash(values[EMAIL]), entry.id)

    def _may_archive(self, entry: Entry) -> bool:
        options = self.options
        return (options.archive and options.full and entry.sync_enabled and entry.status == "active"
                and entry.role not in ROSTER_MANAGER_ROLES and entry.role not in options.no_archive_roles)

    def finish(self) -> SyncPlan:
        """Call only after every page of every enabled role arrived: the unseen become archive candidates."""
        for sid, entry in self.directory.rostered.items():
            if entry.role in self.options.roles and self._may_archive(entry):
                self.plan.archives.append((entry.id, sid))
        self.directory.rostered.clear()
        resolve_diffs(self.plan)
        return self.plan


def _who(record: PersonRecord) -> str:
    """How an issue names an incoming person (built only for the rare record that gets one)."""
    return f"{record.given_name} {record.family_name} ({record.source_id})"


def resolve_diffs(plan: SyncPlan) -> None:
    """Load current values of people to update or link (chunked IN queries) and keep field-level diffs."""
    wanted = {pid: values for pid, _, values, _, _ in plan.updates}
    wanted.update({pid: values for pid, _, values, _ in plan.links if values is not None})
    restoring = {pid for pid, _, _, _, restore in plan.updates if restore}
    ids = list(wanted)
    columns = [Person.id] + [getattr(Person, name) for name in plan.fields]
    for start in range(0, len(ids), DIFF_CHUNK):
        chunk = ids[start:start + DIFF_CHUNK]
        for row in db.session.execute(db.select(*columns).where(Person.id.in_(chunk))):
            after = wanted[row[0]]
            diff = [(name, old or "", new) for name, old, new in zip(plan.fields, row[1:], after)
                    if (old or "") != new]
            if row[0] in restoring:
                diff.append(("status", "archived", "active"))
            plan.diffs[row[0]] = diff
    db.session.commit()
    kept = [u for u in plan.updates if plan.diffs.get(u[0])]
    plan.counts["unchanged"] += len(plan.updates) - len(kept)
    plan.updates = kept


def plan_sync(directory: DirectoryIndex, options: SyncOptions, fields: tuple[str, ...], pages) -> SyncPlan:
    """Plan a whole roster from an iterable of pages (tests and previews that need no progress)."""
    planner = Planner(directory, options, fields)
    for page in pages:
        planner.add_page(page)
    return planner.finish()
