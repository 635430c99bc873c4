"""Plan a sync: compare the incoming roster, page by page, with the directory index; data in, plan out.

Pure: no Flask, no database. `jobs.directory.load_directory` builds the index from the database, and
`jobs.apply` writes the plan.
"""
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from connectors.people import PLAIN_ID
from connectors.records import PersonColumns, PersonRecord, RecordProblem, RosterNotice

from .fields import EMAIL, FAMILY_NAME, GIVEN_NAME, SIS_ID, SOURCE_ID_LIMIT, current_values, incoming, pack
from .hold import ArchiveHold
from .parents import NO_CONTACT, ParentBook
from .plan_columns import plan_columns
from .plan_issues import duplicate_message, sign_in_message, taken_message, who
from .rekey import RekeyBook, rekey_sign_in_message

Issue = tuple  # (source_id, kind, message) or, for an unreadable record, (source_id, kind, message, raw excerpt)
AMBIGUOUS = "ambiguous"
SAMPLE_EVERY = 997  # records between the listed people kept as look-up controls


@dataclass(slots=True)
class Entry:
    """One directory person as the planner needs them: ids, flags and their compared fields' current values."""

    id: int
    values: str | tuple[str, ...]  # packed (one string saves memory); a tuple when a value holds the separator
    status: str
    archived_by: str
    sync_enabled: bool
    role: str
    rostered: bool = True    # has a source_id (False: made by hand)
    signs_in: bool = False   # can sign in: the sync never links, changes, restores or archives them
    source_id: str | None = None  # the SIS sourcedId (the key of DirectoryIndex.rostered; re-keying needs it)

    @property
    def name(self) -> str:
        values = current_values(self.values)
        return f"{values[GIVEN_NAME]} {values[FAMILY_NAME]}".strip()


@dataclass(frozen=True, slots=True)
class SignInAccount:
    """An account that can sign in, as an issue names it when an incoming record has its email."""

    name: str                     # "Olive Owner (olive@school.org)"
    source_id: str | None = None  # the SIS record it is linked to (by hand, or before it could sign in)
    district: bool = False        # a district manager of the school's district, not in the school's People
    elsewhere: str = ""           # the school (or a manager's district) of an account outside this school


@dataclass
class DirectoryIndex:
    """Rostered people by source_id, hand-made people by lower-case email (for linking).

    To spot a new SIS record that duplicates someone already here, emails and SIS ids are kept as
    hash → entry (ints, not strings: 100k of them cost a few MB).
    """

    manager_roles: frozenset[str] = frozenset()  # roles the SIS never sets (owners, district managers)
    rostered: dict[str, Entry] = field(default_factory=dict)
    by_email: dict[str, Entry | str] = field(default_factory=dict)  # hand-made people who cannot sign in
    sign_in: dict[str, SignInAccount] = field(default_factory=dict)  # lower-case email → who can sign in with it
    rostered_total: int = 0  # rostered and active: progress estimate and (minus roles never archived) the guard
    active_by_role: Counter = field(default_factory=Counter)  # rostered and active, per role
    emails: dict[int, Entry] = field(default_factory=dict)        # rostered people's emails
    sis_ids: dict[int, Entry] = field(default_factory=dict)       # rostered people's SIS ids
    hand_sis_ids: dict[int, Entry] = field(default_factory=dict)  # hand-made people's SIS ids

    def add(self, entry: Entry, source_id: str | None, email: str, sis_id: str) -> None:
        """File one person of the school (`email` lower-case)."""
        if entry.signs_in and email:
            self.sign_in.setdefault(email, SignInAccount(_named(entry.name, email), source_id))
        if source_id is not None:
            entry.source_id = source_id
            self.rostered[source_id] = entry
            if entry.status == "active":
                self.rostered_total += 1
                self.active_by_role[entry.role] += 1
            if email:
                self.emails.setdefault(hash(email), entry)
            if sis_id:
                self.sis_ids.setdefault(hash(sis_id), entry)
            return
        if sis_id:
            self.hand_sis_ids.setdefault(hash(sis_id), entry)
        if email and not entry.signs_in:
            self.by_email[email] = AMBIGUOUS if email in self.by_email else entry

    def add_account_elsewhere(self, name: str, email: str, place: str = "") -> None:
        """An account outside the school's People whose email no new record may take: a manager of the school's
        district (`place` "") or anyone who can sign in at another school (`place` names it) or district."""
        if email:
            self.sign_in.setdefault(email, SignInAccount(_named(name, email), district=not place, elsewhere=place))


def _named(name: str, email: str) -> str:
    return f"{name} ({email})" if name else email


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
    version_moved: bool = False  # the connection's OneRoster version differs from the one its people were keyed by
    additions_only: bool = False  # why Auto update and Archive are off for this run (skip reasons say so)
    # A OneRoster CSV delta file was read whole: its `tobedeleted` rows say who left, so they may be archived
    # (an API delta may not; there only a full fetch archives).
    delta_archives_leaving: bool = False

    def may_update(self, role: str) -> bool:
        return self.auto_update and role not in self.no_update_roles

    @property
    def compare_parents(self) -> bool:
        """Parent fields are only compared on full fetches (a delta lacks unchanged guardians)."""
        return self.parents and self.full


@dataclass
class SyncPlan:
    """What a run would do; rows are compact tuples until apply turns them into dicts in chunks.

    `creates` holds only the new people no writer has taken yet (take_creates): on PostgreSQL they leave during the
    fetch, so a 1,000,000-user first import does not keep 700,000 rows until apply; `created` counts them all."""

    fields: tuple[str, ...]
    creates: list[tuple] = field(default_factory=list)   # (source_id, packed values, source_updated_at)
    created: int = 0                                     # every create planned, taken or not
    updates: list[tuple] = field(default_factory=list)   # (person_id, source_id, values, updated_at, restore)
    links: list[tuple] = field(default_factory=list)     # (person_id, source_id, values | None, updated_at)
    archives: list[tuple] = field(default_factory=list)  # (person_id, source_id)
    rekeys: list[tuple] = field(default_factory=list)    # (person_id, old source_id, new source_id)
    skips: list[tuple] = field(default_factory=list)     # (person_id | None, source_id, reason, name): SKIP_REASONS
    counts: Counter = field(default_factory=Counter)     # fetched, skipped, unchanged, issues
    diffs: dict[int, list[tuple[str, str, str]]] = field(default_factory=dict)  # person_id → (field, before, after)
    rostered_total: int = 0
    high_water: datetime | None = None

    def __post_init__(self):
        self.created = self.created or len(self.creates)  # a plan built with its creates (tests, undo)

    def totals(self) -> dict[str, int]:
        return {"fetched": self.counts["fetched"], "created": self.created, "updated": len(self.updates),
                "linked": len(self.links), "skipped": self.counts["skipped"],
                "unchanged": self.counts["unchanged"], "archived": len(self.archives),
                "issues": self.counts["issues"], "rekeyed": len(self.rekeys)}

    def take_creates(self) -> list[tuple]:
        """The creates planned since the last take; the plan keeps only their count."""
        taken, self.creates = self.creates, []
        return taken


class ArchiveGuardTripped(Exception):
    """The run would archive more of the rostered people than the connection allows."""

    def __init__(self, would_archive: int, rostered_total: int, threshold: float, approved: int | None = None):
        self.would_archive, self.rostered_total, self.threshold = would_archive, rostered_total, threshold
        self.hold = hold = ArchiveHold(would_archive, rostered_total, threshold)
        again = "" if approved is None else (f" That is more than the {approved:,} approved, so nothing was archived "
                                             "and the run waits for review again.")
        super().__init__(f"{hold.sentence()}.{again} Review the list, then approve or discard this run.")


def check_archive_guard(plan: SyncPlan, threshold_percent: float, override: bool, approved: int | None = None
                        ) -> None:
    """Raise ArchiveGuardTripped unless an owner approved this run or the share is within the limit.

    An approval covers the number the owner was shown (`approved`): the approved run reads the roster again, and
    one that would now archive more (the SIS broke further since) is held again instead of archiving them all."""
    would, total = len(plan.archives), plan.rostered_total
    # Archiving every rostered person for being absent is held whatever the threshold (even 100%): a roster that
    # holds none of a school's people is a wrong SIS School ID or a client that may no longer read them, not a
    # school that emptied. (Rows that each say the person left, as a CSV delta's tobedeleted, are not absence.)
    everyone_absent = 0 < total <= plan.counts["absent"]
    if not would or (would <= total * threshold_percent / 100 and not everyone_absent):
        return
    if override and (approved is None or would <= approved):
        return
    raise ArchiveGuardTripped(would, total, threshold_percent, approved=approved if override else None)


class Planner:
    """Feed it pages (parents first), then `finish()`; it holds the index, never ORM objects."""

    def __init__(self, directory: DirectoryIndex, options: SyncOptions, fields: tuple[str, ...]):
        self.directory, self.options = directory, options
        self.parents = ParentBook()
        # People of roles never archived do not count toward the archive guard's share.
        # Nor do roles the school does not sync (never archived either): counted, a bundle of only teachers at a
        # school syncing no teachers archived every student without "everyone absent" holding it.
        archivable = sum(n for role, n in directory.active_by_role.items()
                         if role in options.roles and role not in options.no_archive_roles)
        self.plan = SyncPlan(fields=fields, rostered_total=archivable)
        # hashes, not strings: 100k of them cost a few MB (a 64-bit collision is not a practical risk)
        self.seen: set[int] = set()
        self.emails: dict[int, str] = {}  # new records' emails → the first such record's source_id
        self.rekeys = RekeyBook(directory, by_match=options.full and options.version_moved)
        self.late_issues: list[Issue] = []  # found when the re-keys are settled, after the last page
        self._contacts = options.compare_parents  # read once: a property call per record added up
        # A broken record in two listings of one run (fetch_roster reads each step's listings on its own) is one issue
        self._problems: set[int] = set()
        # People here a refused new record looks like (person id -> its sourcedId): if absent, they are kept, since
        # they are probably that record under a changed id (Excel dropping leading zeros: 000003 became 3)
        self._duplicated: dict[int, str] = {}
        # A few sourcedIds of active people the listings brought (the latest, and one every SAMPLE_EVERY records):
        # jobs.confirm looks them up first to learn whether the SIS's 404s for single users can be believed. The
        # first one alone would not do: a record deleted while the listing was read is often just that one.
        self._latest: str | None = None
        self._samples: list[str] = []

    def add_page(self, page: list | PersonColumns) -> list[Issue]:
        """Plan one page; returns the page's issues so they can be stored with the progress. A page of columns
        (a CSV bundle's kept records) is planned column by column when plan_columns can, else record by record."""
        issues: list[Issue] = []
        if type(page) is PersonColumns:
            if not plan_columns(self, page.columns, page.count):
                self._add_items(page.records(), issues)
            self._add_items(page.problems, issues)
        else:
            self._add_items(page, issues)
        self.plan.counts["issues"] += len(issues)
        return issues

    def _add_items(self, page, issues: list[Issue]) -> None:
        person, add_parent = self._person, self.parents.add
        for item in page:
            if type(item) is PersonRecord:  # nearly every item: one type check, not two isinstance calls
                if item.role == "parent":
                    add_parent(item)
                else:
                    person(item, issues)
            elif isinstance(item, RosterNotice):  # how the roster was read (a fallback listing, unreadable dates)
                issues.append(("", item.kind, item.message))
            elif isinstance(item, RecordProblem):
                self._problem(item, issues)
            elif item.role == "parent":
                add_parent(item)
            else:
                person(item, issues)

    def _problem(self, problem: RecordProblem, issues: list[Issue]) -> None:
        # A broken record is still "seen": its person must not be archived for being missing.
        if problem.source_id:
            self.seen.add(hash(problem.source_id))
            self.directory.rostered.pop(problem.source_id, None)
        key = hash((problem.source_id, problem.message))
        if key in self._problems:
            return
        self._problems.add(key)
        # The message stays plain words; the raw record is kept apart, for the run page's "details" disclosure only.
        issues.append((problem.source_id, "bad_record", problem.message, problem.raw_excerpt))

    def _person(self, record: PersonRecord, issues: list[Issue]) -> None:
        plan, sid, seen = self.plan, record.source_id, self.seen
        if not record.school_ids and record.is_leaving:  # a deletion naming only the person (a CSV delta's bare row)
            entry = self.directory.rostered.get(sid)
            if entry is None or entry.role not in self.options.roles:
                return  # not rostered here in a role this school syncs: nothing to do, and nothing to report
        key = hash(sid)
        if key in seen:
            issues.append((sid, "duplicate_source_id", f"The SIS sent {sid} twice; only the first copy was used."))
            return
        seen.add(key)
        plan.counts["fetched"] += 1
        if not record.is_leaving:
            self._latest = sid
            if plan.counts["fetched"] % SAMPLE_EVERY == 1:
                self._samples.append(sid)
        if len(sid) > SOURCE_ID_LIMIT:  # nobody here can have it: storing it would fail the whole apply
            name = f"{record.given_name} {record.family_name}".strip()
            issues.append((sid, "bad_record", f"{name} ({sid[:40]}…) was not added: their sourcedId is {len(sid):,} "
                           f"characters long and the portal keeps at most {SOURCE_ID_LIMIT}. Ask the SIS vendor "
                           "to send a shorter sourcedId (a GUID has 36), then sync again."))
            plan.counts["skipped"] += 1
            return
        modified = record.date_last_modified
        if modified and (plan.high_water is None or modified > plan.high_water):
            plan.high_water = modified
        contact = None
        if self._contacts:
            contact = self.parents.contact_for(record.agent_ids, sid) if record.role == "student" else NO_CONTACT
        values, packed = incoming(record, contact)
        entry = self.directory.rostered.pop(sid, None)
        if entry is None:
            # rekeys.match finds nothing without a legacy id outside a version move: skip the call
            if not ((record.legacy_id or self.rekeys.by_match) and self._rekey_later(record, values, issues)):
                self._new_person(record, values, packed, issues)
            return
        if entry.role in self.directory.manager_roles:  # owners and district managers keep their role
            values = (entry.role,) + values[1:]
            packed = pack(values)
        self._known_person(record, entry, values, issues, packed)

    def _rekey_later(self, record: PersonRecord, values: tuple, issues: list[Issue]) -> bool:
        """Hold an unknown sourcedId that probably is a known person under a new id (see jobs.rekey)."""
        found = self.rekeys.match(record, values)
        if found is None:
            return False
        entry, field_name, value = found
        if self.rekeys.available(entry):
            self.rekeys.hold(record, values, entry, field_name, value)
            return True
        if entry.signs_in and field_name == "legacy sourcedId":
            account = self.directory.sign_in.get(current_values(entry.values)[EMAIL].lower())
            issues.append((record.source_id, "sign_in_account",
                           rekey_sign_in_message(record, account.name if account else entry.name, entry.source_id)))
            self._skip(entry.id, record, "sign_in_account")
            return True
        return False  # already seen in this run: a new record like any other (a possible duplicate)

    def settle(self) -> list[Issue]:
        """Re-key the held records whose person's old sourcedId never came; the others are possible duplicates.
        Call after the last page (finish() does it too); returns the issues found."""
        issues: list[Issue] = []
        self._keep_duplicated(issues)
        rekeyed, refused = self.rekeys.settle()
        for pending in rekeyed:
            entry = pending.entry
            self.plan.rekeys.append((entry.id, entry.source_id, pending.source_id))
            self._known_person(pending, entry, pending.values, issues)
        for pending in refused:
            issues.append((pending.source_id, "possible_duplicate",
                           duplicate_message(pending, pending.field, pending.value, pending.entry)))
            self._skip(None, pending, "possible_duplicate")
        self.plan.counts["issues"] += len(issues)
        self.late_issues += issues
        return issues

    def _keep_duplicated(self, issues: list[Issue]) -> None:
        """Absent people a refused new record looks like are not archived for being absent: archived, a roster
        whose ids Excel changed lost them while their new records were refused as duplicates."""
        if not self._duplicated:
            return
        rostered, duplicated = self.directory.rostered, self._duplicated
        for sid, entry in [(sid, e) for sid, e in rostered.items() if e.id in duplicated]:
            if entry.role in self.options.roles and self._may_archive(entry):
                del rostered[sid]
                issues.append((sid, "possible_duplicate", f"{entry.name} ({sid}) is no longer in the SIS's roster "
                               f"under that id, but the new record {duplicated[entry.id]} looks like them (see its "
                               "issue), so they were kept, not archived. If the SIS changed their id (a spreadsheet "
                               "drops leading zeros: 000123 becomes 123), correct the export; if they left, archive "
                               "them in People."))
        duplicated.clear()

    def _new_person(self, record: PersonRecord, values: tuple, packed: str, issues: list[Issue]) -> None:
        plan, sid, directory = self.plan, record.source_id, self.directory
        if record.status == "tobedeleted" or not record.enabled:  # record.is_leaving, without the property call
            self._skip(None, record, "left_before_added")
            return
        email, sis_id = values[EMAIL], values[SIS_ID]
        email_hash = hash(email) if email else None
        earlier = self.emails.setdefault(email_hash, sid) if email else sid
        if earlier != sid:
            issues.append((sid, "possible_duplicate", f"Possible duplicate: {who(record)} was not added because "
                           f"another SIS record in this sync ({earlier}) has the same email {email}. Give each person "
                           "their own email in the SIS, then sync again."))
            self._skip(None, record, "possible_duplicate")
            return
        account = directory.sign_in.get(email) if email else None
        if account is not None:  # never linked by email, nor added beside them: SIS data must not become them
            issues.append((sid, "sign_in_account", sign_in_message(record, email, account)))
            self._skip(None, record, "sign_in_account")
            return
        # Most new records match nobody: look the hashes up here, and call _duplicate_of only for a hit.
        sis_hash = hash(sis_id) if sis_id else None
        if (email and email_hash in directory.emails) or \
                (sis_id and (sis_hash in directory.sis_ids or sis_hash in directory.hand_sis_ids)):
            duplicate = self._duplicate_of(email, email_hash, sis_id)
            if duplicate is not None:
                issues.append((sid, "possible_duplicate", duplicate_message(record, *duplicate)))
                self._skip(None, record, "possible_duplicate")
                self._duplicated[duplicate[2].id] = sid
                return
        match = directory.by_email.pop(email, None) if email else None
        if match is not None:
            self._link(record, match, values, issues)
            return
        plan.creates.append((sid, packed, record.date_last_modified))
        plan.created += 1

    def _duplicate_of(self, email: str, email_hash: int | None, sis_id: str) -> tuple[str, str, Entry] | None:
        """(field, value, person) when a record with a new sourcedId looks like someone already here."""
        directory = self.directory
        if email and (entry := directory.emails.get(email_hash)) is not None:
            return "email", email, entry
        if not sis_id:
            return None
        if (entry := directory.sis_ids.get(hash(sis_id))) is not None:
            return "SIS id", sis_id, entry
        entry = directory.hand_sis_ids.get(hash(sis_id))
        link = directory.by_email.get(email) if email else None
        if entry is not None and link != AMBIGUOUS and (link is None or link.id != entry.id):
            return "SIS id", sis_id, entry  # a hand-made person this record would not link to by email
        return None

    def _link(self, record: PersonRecord, match: Entry | str, values: tuple, issues: list[Issue]) -> None:
        plan, sid, email = self.plan, record.source_id, values[EMAIL]
        if match == AMBIGUOUS:
            issues.append((sid, "ambiguous_link", f"Several people here have the email {email}, so {sid} was "
                           "not linked or created; give them distinct emails."))
            self._skip(None, record, "ambiguous_link")
        elif match.status != "active":
            issues.append((sid, "archived_here", f"{email} was archived here but is active in the SIS; "
                           "restore them by hand to sync them again."))
            self._skip(match.id, record, "archived_here")
        elif not match.sync_enabled:
            self._skip(match.id, record, "excluded")
        elif self.options.may_update(match.role):
            plan.links.append((match.id, sid, values, record.date_last_modified))
            plan.diffs[match.id] = _diff(self.plan.fields, match.values, values)
        else:
            plan.links.append((match.id, sid, None, record.date_last_modified))

    def _known_person(self, record: PersonRecord, entry: Entry, values: tuple, issues: list[Issue],
                      packed: str | None = None) -> None:
        plan, options = self.plan, self.options
        if not entry.sync_enabled:
            self._skip(entry.id, record, "excluded")
        elif record.is_leaving:
            if entry.status != "active":
                plan.counts["unchanged"] += 1
            elif self._may_archive(entry, leaving=True):
                plan.archives.append((entry.id, record.source_id))
            else:
                self._skip(entry.id, record, self._kept_reason(entry))
        elif entry.status != "active" and entry.archived_by != "sync":
            issues.append((record.source_id, "archived_here", f"{record.given_name} {record.family_name} was "
                           "archived here but is active in the SIS; restore them by hand to sync them again."))
            self._skip(entry.id, record, "archived_here")
        elif entry.status == "active" and entry.values == (packed if packed is not None else pack(values)):
            plan.counts["unchanged"] += 1
        elif entry.signs_in or not options.may_update(entry.role):
            self._skip(entry.id, record, self._not_updated_reason(entry))
        elif (account := self._sign_in_email_taken(entry, values)) is not None:
            issues.append((record.source_id, "sign_in_account", taken_message(record, values[EMAIL], account)))
            self._skip(entry.id, record, "sign_in_account")
        else:
            restore = entry.status != "active"
            diff = _diff(plan.fields, entry.values, values) + ([("status", "archived", "active")] if restore else [])
            if not diff:
                plan.counts["unchanged"] += 1
                return
            plan.updates.append((entry.id, record.source_id, values, record.date_last_modified, restore))
            plan.diffs[entry.id] = diff
            self._note_update(record, entry, diff, values[EMAIL], issues)
            if values[EMAIL]:  # a new record later in this run must not take the email this person gets
                self.directory.emails.setdefault(hash(values[EMAIL]), entry)

    def _note_update(self, record: PersonRecord, entry: Entry, diff: list, email: str, issues: list[Issue]) -> None:
        """Issues for an update someone should look at (it is applied all the same: the SIS is the source): a name
        or email the SIS sent blank, which an answer that leaves fields out does to everyone it leaves them out of,
        and an email another person here already has."""
        cleared = [(name, old) for name, old, new in diff if not new and old and name in WATCHED_BLANKS]
        if cleared:
            what = " and ".join(f"{WATCHED_BLANKS[name]} (was {old})" for name, old in cleared)
            it = "it was" if len(cleared) == 1 else "they were"
            issues.append((record.source_id, "value_cleared", f"{who(record)}: the SIS sent no {what}, so {it} "
                           f"cleared here. If the SIS still has {'it' if len(cleared) == 1 else 'them'}, its API or "
                           "export left the field out: ask the SIS vendor, then sync again."))
        if email and any(name == "email" for name, _, _ in diff):
            other = self.directory.emails.get(hash(email))
            if other is not None and other is not entry and other.status == "active":
                by_hand = "" if other.rostered else ", added by hand"
                issues.append((record.source_id, "possible_duplicate", f"Possible duplicate: {who(record)} now has "
                               f"the email {email}, which {other.name}{by_hand} has too in People. If they are one "
                               "person, the SIS has them twice; if not, give each their own email in the SIS."))

    def _skip(self, person_id: int | None, record: PersonRecord, reason: str) -> None:
        self.plan.counts["skipped"] += 1
        name = f"{record.given_name} {record.family_name}".strip()
        self.plan.skips.append((person_id, record.source_id, reason, name))

    def _not_updated_reason(self, entry: Entry) -> str:
        """Why a changed person already here was left as they are."""
        options = self.options
        if entry.signs_in:
            return "signs_in"
        if options.additions_only:
            return "additions_only"
        return "auto_update_off" if not options.auto_update else "update_role"

    def _kept_reason(self, entry: Entry) -> str:
        """Why a person the SIS marks as leaving was kept."""
        options = self.options
        if entry.signs_in:
            return "signs_in"
        if options.additions_only:
            return "additions_only"
        if not options.archive:
            return "archive_off"
        return "archive_role" if entry.role in options.no_archive_roles else "delta"

    def _sign_in_email_taken(self, entry: Entry, values: tuple) -> SignInAccount | None:
        """The sign-in account whose address an update would give this person (None: the email stays or is free)."""
        email = values[EMAIL]
        if not email or email == current_values(entry.values)[EMAIL]:
            return None
        return self.directory.sign_in.get(email)

    def _may_archive(self, entry: Entry, leaving: bool = False) -> bool:
        """`leaving`: the record itself says the person left (not merely absent from the roster)."""
        options = self.options
        complete = options.full or (leaving and options.delta_archives_leaving)
        return (options.archive and complete and entry.sync_enabled and entry.status == "active"
                and not entry.signs_in and entry.role not in options.no_archive_roles)  # owners, DMs always sign in

    def absent(self) -> list[str]:
        """The sourcedIds finish() would archive for being absent from the roster, in sourcedId order."""
        rostered, roles = self.directory.rostered, self.options.roles
        return sorted(sid for sid, entry in rostered.items() if entry.role in roles and self._may_archive(entry))

    def listed_examples(self, at_most: int = 3) -> list[str]:
        """Up to `at_most` sourcedIds of active people the listings brought, plain enough for a URL as they are,
        the latest first."""
        found: list[str] = []
        for sid in ([self._latest] if self._latest else []) + self._samples[::-1]:
            if sid not in found and PLAIN_ID.fullmatch(sid):
                found.append(sid)
                if len(found) == at_most:
                    break
        return found

    def keep(self, source_id: str) -> None:
        """Count an absent person as seen without planning anything for them (the SIS could not say they left)."""
        self.seen.add(hash(source_id))
        self.directory.rostered.pop(source_id, None)

    def finish(self) -> SyncPlan:
        """Call only after every page of every enabled role arrived: the unseen become archive candidates."""
        self.settle()
        before = len(self.plan.archives)
        for sid, entry in self.directory.rostered.items():
            if entry.role in self.options.roles and self._may_archive(entry):
                self.plan.archives.append((entry.id, sid))
        self.plan.counts["absent"] = len(self.plan.archives) - before  # archived for not being in the roster
        self.directory.rostered.clear()
        return self.plan


# Fields whose clearing by a sync is reported (jobs.plan.Planner._note_update): what the person is known by.
WATCHED_BLANKS = {"given_name": "given name", "family_name": "family name", "email": "email"}


def _diff(fields: tuple[str, ...], stored, values: tuple[str, ...]) -> list[tuple[str, str, str]]:
    """(field, before, after) for each compared field the incoming values change."""
    return [(name, old, new) for name, old, new in zip(fields, current_values(stored), values) if old != new]
