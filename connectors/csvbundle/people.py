"""users.csv rows -> the PersonRecord / RecordProblem objects the API reader yields, checked row by row."""
import re
import tempfile
from array import array
from bisect import bisect_right
from itertools import accumulate, chain, compress, count, repeat
from operator import itemgetter, not_

from ..records import KNOWN_ROLES, ROLE_MAP, PersonRecord, RecordProblem, map_role, parse_datetime
from .batch import DISABLED as _DISABLED, EMAIL_KEPT as _EMAIL_KEPT, KNOWN_ENABLED as _KNOWN_ENABLED, LEAVING as _LEAVING
from .batch import NAME_KEPT as _NAME_KEPT, PHONE_KEPT as _PHONE_KEPT, read_clean, split_ids
from .report import Report
from .spool import read_chunks, write_columns
from .spec import COLUMNS, KEPT_CHARACTERS, REQUIRED
from .tables import Header, checked_rows, read_batches

FILE = "users.csv"
_READ = ("sourcedId", "status", "dateLastModified", "enabledUser", "orgSourcedIds", "role", "username", "givenName",
         "familyName", "middleName", "identifier", "email", "sms", "phone", "agentSourcedIds", "grades")
AGENTS = PersonRecord._fields.index("agent_ids")
_AGENTS = itemgetter(AGENTS)
_first = itemgetter(0)
# deferred students per spool chunk: packed while their values are still in the CPU's cache (1,000,000 users, students
# first, read with records: 5.7-7.5 s CPU against 6.9-10.0 s with 4096, four runs each, alternately)
SPOOL_CHUNK = 1000
_EXCEL_FIX = ("Export the files from the SIS again and send them without opening them in Excel (or import the "
              "column as Text)")
_EXCEL_NUMBER = re.compile(r"\d(\.\d+)?E\+\d+", re.IGNORECASE)  # how Excel shows a number of 12+ digits
_new = tuple.__new__  # PersonRecord is a named tuple: built from the 18 values in field order, without __new__'s call
BATCH = 100  # rows checked together (batch.py); a batch that needs a word in the report is read row by row
ROLES_HINT = KNOWN_ROLES  # every role ROLE_MAP reads, 1.2's included


def _nothing(role, orgs) -> bool:
    return False


class UserScan:
    """One pass over users.csv; `wanted(role, orgs)` picks the records to build, the rest are only checked.

    With `defer` set, a student whose agents (parents) come later in the file is spooled to a temporary file and
    built after the last row, so that every parent reaches the engine before the students that name them.
    """

    def __init__(self, bundle, wanted, report: Report, *, defer: bool, page_size: int = 1000, columns: bool = False,
                 roles: dict | None = None):
        # roles: roles.csv's map as one school sees it (CsvBundle.roles_at); the bundle's own when None
        # wanted None: nothing is built, the rows are only checked (validation); columns: see _column_pages
        if columns and defer:
            raise ValueError("pages of columns are read in file order: nothing is deferred")
        self.bundle, self.wanted, self.defer, self.page_size = bundle, wanted, defer, page_size
        self.columns = columns
        self._wants = wanted or _nothing
        self.pad = False
        self.report = report
        self.orgs, self.roles = bundle.orgs, roles if roles is not None else bundle.roles
        # orgSourcedIds match orgs.csv in any case (as the reader matches schools); a delta orgs.csv holds only the
        # orgs that changed, so a user naming an org it lacks is no broken reference
        self.orgs_lower = frozenset(org.lower() for org in bundle.orgs)
        self.orgs_unchecked = bundle.orgs_delta
        self.delta = bundle.users_mode == "delta"
        # hashes, not strings, as in jobs.plan: a million ids cost tens of MB (a 64-bit collision is not a
        # practical risk). A dict of ints, not a set: the garbage collector does not track it, where it walked a
        # set's million entries at each full collection (about a quarter of a million-user read with records).
        self.seen: dict[int, None] = {}
        # agentSourcedIds naming a row not read yet, checked after the last row: `forward` (one id, or a tuple of
        # them) and `forward_at` (the naming row's line) are _row's for the batch being read; refer() keeps a
        # batch's ids as an array of their hashes, one of their lines and one comma-joined str (an id holds no
        # comma) split again only for an id that never came. csv_bench.py's million users name 900,000 agents
        # ahead of their rows: kept as strs they held 60 MB that every later row's memory landed beyond, and one
        # growing array was copied at each of its resizes.
        self.forward: list[str | tuple[str, ...]] = []
        self.forward_at: list[int] = []
        self.forward_kept: list[tuple[array, array, str]] = []
        self.spool = None
        self.spooled_lines = array("q")
        self._dates: dict = {}
        self._lists: dict[str, tuple[str, ...]] = {}

    def pages(self):
        """Pages of records (and problems) in file order, the spooled students last."""
        stream = self.bundle.files.open(FILE)
        version = self.bundle.version
        at = None
        self._page: list = []
        try:
            batches = read_batches(stream, FILE, COLUMNS[(version, FILE)], REQUIRED[(version, FILE)], self.report,
                                   self.bundle.limits.max_line_bytes, BATCH)
            header = next(batches, None)
            if isinstance(header, Header):
                indexes = [header.index.get(c, header.width) for c in _READ]
                at = itemgetter(*indexes)
                self.pad = header.width in indexes
                paged = self._column_pages if self.columns else self._paged
                yield from paged(batches, header.width, indexes, at)
        finally:
            stream.close()
        if self.spool is not None:
            yield from self._spooled()
        if self._page:
            yield self._page
        self.bundle.users_read = len(self.seen)
        self._check_forward()
        if self.roles:
            for user in self.roles:
                if hash(user) not in self.seen and self.delta:  # a role change alone cannot be applied here
                    self.report.warning("roles.csv", 0, "userSourcedId", f"roles.csv changes {user}'s role, but this "
                                        f"delta's users.csv has no row for {user}, so the change cannot be applied: "
                                        "the portal reads a person from their users.csv row.", "Export the user's row "
                                        "with the role change (or send a bulk export).", kind="role-user")
                elif hash(user) not in self.seen:
                    self.report.warning("roles.csv", 0, "userSourcedId", f"roles.csv gives {user} a role, but {user} "
                                        "is not a user in users.csv.", "Add the user to users.csv or remove the role.",
                                        kind="role-user")
        unread = any(kind.startswith(f"error:{FILE}:") for kind in self.report.counts)  # reading stopped early
        if at is not None and not self.seen and self.bundle.full and not unread:
            self.report.error(FILE, 0, "", "users.csv has a header but no users; as a bulk file it would say that "
                              "everyone has left the roster.", "Check the export's filters in the SIS, then send the "
                              "bundle again.")

    def _paged(self, batches, width: int, indexes: list[int], at):
        pad, page, size, report = self.pad, self._page, self.page_size, self.report
        for before, after, rows in batches:
            clean = read_clean(self, before + 1, rows, width, indexes) if after - before == len(rows) else None
            if clean is not None:
                page += map(_new, repeat(PersonRecord), zip(*clean))  # zip's tuples, reused: one copy per record
            else:
                for line, row in checked_rows(FILE, width, before, after, rows, report):
                    if pad:
                        row.append("")  # the index of every column the header lacks: reads as blank
                    out = self._row(line, row, at)
                    if out is not None:
                        page.append(out)
            if self.forward:
                self._refer_rows()
            while len(page) >= size:
                yield page[:size]
                del page[:size]

    def _column_pages(self, batches, width: int, indexes: list[int], at):
        """_paged for receipt's kept records: each page as (its records' columns in PersonRecord field order, the
        problems), the columns read_clean built taken as they are, without a PersonRecord per user that
        spool.keep_columns would only take apart again (with the batch reader's other savings, receipt's pass over
        csv_bench.py's bundle of 100,000 users ran 4.03 -> 3.76 billion instructions under cachegrind)."""
        pad, size, report = self.pad, self.page_size, self.report
        columns, problems = [[] for _ in PersonRecord._fields], []
        for before, after, rows in batches:
            clean = read_clean(self, before + 1, rows, width, indexes) if after - before == len(rows) else None
            if clean is None:
                records = []
                for line, row in checked_rows(FILE, width, before, after, rows, report):
                    if pad:
                        row.append("")  # the index of every column the header lacks: reads as blank
                    out = self._row(line, row, at)
                    if out is not None:
                        (records if type(out) is PersonRecord else problems).append(out)
                clean = list(zip(*records))
            for column, values in zip(columns, clean):
                column += values
            if self.forward:
                self._refer_rows()
            while len(columns[0]) >= size:
                yield [column[:size] for column in columns], problems
                for column in columns:
                    del column[:size]
                problems = []
        if columns[0] or problems:
            yield columns, problems

    def _row(self, line, row, at):
        """The record (or problem) for one row, None when it is skipped, spooled or not wanted.

        One function on purpose: this runs once per user (a million times for a large district), and each call
        or attribute lookup saved here is measurable in benchmarks/csv_bench.py.
        """
        (sid, status, modified, enabled, orgs, role, username, given, family, middle, identifier, email, sms,
         phone, agents, grades) = at(row)
        sid = sid.strip()
        seen, report, wanted = self.seen, self.report, self._wants
        deferred = False
        if self.roles is not None:
            role, org_ids = self.roles.get(sid, ("", ()))
        elif (org_ids := self._lists.get(orgs)) is None:
            org_ids = self._split(orgs)
        mapped = ROLE_MAP.get(role) or map_role(role)
        if mapped is None and _names_column(sid, "sourcedid") and _names_column(role, "role"):
            report.warning(FILE, line, "", "This line repeats the header row, so it is not a user; it is "
                           "skipped.", "If two exports were joined into one users.csv, export it again as one file: "
                           "rows repeated after this line are reported as used by an earlier row.", kind="header-again")
            return None
        # one agent (the usual case) without a call; a list or stray spaces through split_ids
        agent_ids = (agents,) if agents and "," not in agents and " " not in agents else split_ids(agents)
        key = hash(sid)
        if key in seen or not sid:
            self._unusable_id(sid, line)
            return None
        seen[key] = None
        known = self.orgs
        for org in org_ids:
            if org not in known and not self.orgs_unchecked and org.lower() not in self.orgs_lower:
                report.warning(FILE, line, "orgSourcedIds", f"orgSourcedIds names {org}, which is not an org in "
                               "orgs.csv.", "Add the org to orgs.csv or correct the reference.", kind="org-ref")
        for agent in agent_ids:
            if hash(agent) not in seen:  # named before its own row: defer the student, or check at the end
                if self.defer and mapped == "student" and wanted(mapped, org_ids):
                    deferred = True
                    break
                self.forward.append(agent_ids[0] if len(agent_ids) == 1 else agent_ids)  # a str costs less
                self.forward_at.append(line)
                break
        leaving = status.strip().lower() in _LEAVING
        if not org_ids and self.roles is None and not leaving:
            report.warning(FILE, line, "orgSourcedIds", f"User {sid} has a blank orgSourcedIds (a required field), so "
                           "they belong to no school: a school's sync leaves them out (a full export: as having "
                           "left).", "Fill orgSourcedIds in the SIS export.", kind="no-orgs")
        if leaving and mapped != "parent" and (mapped is None or not org_ids):
            return self._deletion(sid, mapped, modified)
        if mapped is None and not role and self.roles is not None and self.delta:
            # a conforming 1.2 delta repeats only changed rows: this user's unchanged role is not in it
            report.warning(FILE, line, "sourcedId", f"User {sid} is in this delta's users.csv, but its roles.csv has "
                           "no role for them, so the change to their row cannot be applied: the portal needs a "
                           "person's role and school from roles.csv.", "Export their roles.csv rows with the change "
                           "(or send a bulk export).", kind="role")
            return RecordProblem(sid, f"User {sid}'s change in this delta has no role in its roles.csv, so it was "
                                 "not applied.", f"{FILE} line {line}", ()) if self.wanted is not None else None
        if mapped is None:
            shown = f"'{role}'" if role else "no role"
            where = "" if self.roles is None else " in roles.csv"
            report.warning(FILE, line, "role", f"User {sid} has {shown}{where}; expected one of {ROLES_HINT}.",
                           "Give the user one of these roles in the SIS, or leave them out of the export.",
                           kind="role")
            return RecordProblem(sid, f"User {sid} has {shown}{where}; expected one of {ROLES_HINT}.",
                                 f"{FILE} line {line}", tuple(org_ids)) if wanted(None, org_ids) else None
        if "e+" in (sid + identifier + phone).lower():
            self._excel_numbers(line, sourcedId=sid, identifier=identifier, phone=phone)
        if max(len(given), len(family), len(middle), len(username), len(identifier)) > _NAME_KEPT or \
                len(email) > _EMAIL_KEPT or len(phone) > _PHONE_KEPT:
            self._too_long(line, givenName=given, familyName=family, middleName=middle, email=email,
                           username=username, identifier=identifier, phone=phone)
        given, family = given.strip(), family.strip()
        if not given and not family and not leaving:  # a deletion row needs no names
            report.warning(FILE, line, "givenName", f"User {sid} has no givenName or familyName.",
                           "Fill in the user's names in the SIS.", kind="names")
            return RecordProblem(sid, f"User {sid} ({role}) has no givenName or familyName.",
                                 f"{FILE} line {line}", tuple(org_ids)) if wanted(mapped, org_ids) else None
        if status:
            status = status.strip().lower()
        elif self.delta:
            report.warning(FILE, line, "status", "A delta file leaves status blank; the user is read as active.",
                           "Fill status (active or tobedeleted) in delta exports.", kind="delta-status")
        when = None
        if modified:
            when = self._date(modified)
            if when is None:
                report.warning(FILE, line, "dateLastModified", f"dateLastModified {modified!r} is not an ISO 8601 "
                               "date.", "Write dates like 2026-01-31T08:00:00Z.", kind="date")
        if enabled and enabled != "true" and enabled.strip().lower() not in _KNOWN_ENABLED:
            _unknown_enabled(report, line, sid, enabled)
        if not wanted(mapped, org_ids):
            if self.delta and org_ids and mapped not in (None, "parent") and not wanted(None, org_ids):
                # A delta row is the user's whole current record: orgs that no longer name this school say they
                # left it (moved to another school); kept active here, a delta-only school would keep them for ever.
                return self._deletion(sid, mapped, modified)
            return None
        values = (
            sid, mapped, given, family, middle.strip(), email.strip(), username.strip(), identifier.strip(),
            lists[grades] if grades in (lists := self._lists) else self._split(grades), phone.strip() or sms.strip(),
            "tobedeleted" if status in _LEAVING else "active",
            not enabled or enabled == "true" or enabled.strip().lower() not in _DISABLED, org_ids, agent_ids,
            when, role, "", ())  # no legacy id (Infinite Campus' 1.2 API metadata); roles by org: see roles_at
        if deferred:
            self._spool(line, values)
            return None
        return _new(PersonRecord, values)

    def _deletion(self, sid: str, mapped: str | None, modified: str):
        """A `tobedeleted` row that names no role or no school (deletion rows written with only their required
        ids, as some SIS delta exports do), or a delta row naming other schools only: whoever has this sourcedId
        left. It goes to every school (no school_ids); the planner acts only where the person is already rostered
        in a role the school syncs."""
        if self.wanted is None:  # validation only
            return None
        when = self._date(modified) if modified else None
        return _new(PersonRecord, (sid, mapped or "", "", "", "", "", "", "", (), "", "tobedeleted", True, (), (),
                                   when, mapped or "", "", ()))

    def _excel_numbers(self, line: int, **values: str) -> None:
        """Values Excel turned into scientific notation (1.23457E+15) when the file was opened and saved there."""
        for column, value in values.items():
            if _EXCEL_NUMBER.fullmatch(value.strip()):
                self.report.warning(FILE, line, column, f"{column} {value.strip()} looks like a long number that Excel "
                                    "shortened to scientific notation when the file was opened and saved there; the "
                                    "digits it dropped are lost.", f"{_EXCEL_FIX}.", kind="excel")

    def _too_long(self, line: int, **values: str) -> None:
        """A value longer than the portal keeps: cut to fit when synced, which should not be silent."""
        for column, value in values.items():
            kept = KEPT_CHARACTERS[column]
            if len(value.strip()) > kept:
                self.report.warning(FILE, line, column, f"{column} is {len(value.strip()):,} characters long; the "
                                    f"portal keeps the first {kept}.", "Shorten it in the SIS if the rest matters.",
                                    kind="too-long")

    def _unusable_id(self, sid: str, line: int) -> None:
        if not sid:
            self.report.warning(FILE, line, "sourcedId", "The user has no sourcedId, so it cannot be matched; the "
                                "row is skipped.", "Give every user a sourcedId in the SIS export.", kind="no-id")
        elif _EXCEL_NUMBER.fullmatch(sid):  # 1.23457E+15: a long number Excel rounded when it saved the file
            self.report.error(FILE, line, "sourcedId", f"sourcedId {sid} is used by an earlier row too: it is a long "
                              "number that Excel shortened to scientific notation when the file was opened and "
                              "saved there, so different users now share it.", f"{_EXCEL_FIX}; do not remove rows.",
                              kind="dup")
        else:
            self.report.error(FILE, line, "sourcedId", f"sourcedId {sid} is used by an earlier row too.",
                              "Give every user their own sourcedId; remove the repeated row.", kind="dup")

    def _split(self, value: str) -> tuple[str, ...]:
        """split_ids, remembered: orgSourcedIds and grades take few distinct values in a file."""
        lists = self._lists
        if len(lists) >= 4096:
            lists.clear()
        ids = lists[value] = split_ids(value)
        return ids

    def list_of(self, value: str) -> tuple[str, ...]:
        """A list field (orgSourcedIds, grades) as _row reads it."""
        ids = self._lists.get(value)
        return ids if ids is not None else self._split(value)

    org_ids = list_of

    def _date(self, text: str):
        """parse_datetime, remembered: an export stamps many rows with the same dateLastModified."""
        dates = self._dates
        if text in dates:
            return dates[text]
        if len(dates) >= 4096:
            dates.clear()
        when = dates[text] = parse_datetime(text)
        return when

    date = _date

    def _spool(self, line: int, values: tuple) -> None:
        """Keep a deferred student's record for after the last row, in chunks on a temporary file (spool.py).

        The record is built (and its row checked) now; only its agents are checked when it is read back. Spooling
        records, not rows, spares the row a second parse and check (a student-first file defers most students)."""
        self.defer_columns([[value] for value in values], [line])

    def defer_columns(self, columns: list[list], lines: list[int]) -> None:
        """_spool for several records given as their fields' columns (PersonRecord field order), and their lines."""
        if self.spool is None:
            self.spool, self.spool_columns = tempfile.TemporaryFile(), [[] for _ in PersonRecord._fields]
        for kept, column in zip(self.spool_columns, columns):
            kept += column
        self.spooled_lines.fromlist(lines)  # a list: array.extend would take it one item at a time
        if len(self.spool_columns[0]) >= SPOOL_CHUNK:
            self._flush_spool()

    def _flush_spool(self) -> None:
        if self.spool_columns[0]:
            write_columns(self.spool, self.spool_columns, len(self.spool_columns[0]))
            self.spool_columns = [[] for _ in PersonRecord._fields]

    def _spooled(self):
        """The deferred students, yielded now that every parent has been seen; a contact that never came is named."""
        self._flush_spool()
        self.spool.seek(0)
        seen, lines, done, page, size = self.seen, self.spooled_lines, 0, self._page, self.page_size
        try:
            for records, _ in read_chunks(self.spool):
                agents = list(map(hash, chain.from_iterable(map(_AGENTS, records))))
                if not all(map(seen.__contains__, agents)):  # a contact that never came: name it
                    for line, record in zip(lines[done:done + len(records)], records):
                        for agent in record[AGENTS]:
                            if hash(agent) not in seen:
                                self._dangling(agent, line)
                page += records
                done += len(records)
                while len(page) >= size:
                    yield page[:size]
                    del page[:size]
        finally:
            self.spool.close()
            self.spool = None

    def refer(self, agents: list[str], lines: list[int]) -> None:
        """Keep agentSourcedIds (one id each, none empty) and the lines naming them, to be checked after the last
        row (_check_forward)."""
        if agents:  # arrays made from lists: from an iterator they take one item at a time
            self.forward_kept.append((array("q", list(map(hash, agents))), array("q", lines), ",".join(agents)))

    def refer_entries(self, entries: list, lines) -> None:
        """refer() for one id or a tuple of them per naming row (`lines`: one per entry)."""
        if all(map(str.__instancecheck__, entries)):
            self.refer(entries, list(lines))
            return
        ids = [(entry,) if type(entry) is str else entry for entry in entries]
        self.refer(list(chain.from_iterable(ids)), list(chain.from_iterable(map(repeat, lines, map(len, ids)))))

    def _refer_rows(self) -> None:
        self.refer_entries(self.forward, self.forward_at)
        self.forward, self.forward_at = [], []

    def _check_forward(self) -> None:
        """Name each agent a row gave that never came, in file order."""
        if self.forward:
            self._refer_rows()
        kept, self.forward_kept = self.forward_kept, []
        hashes = chain.from_iterable(map(_first, kept))
        missing = list(compress(count(), map(not_, map(self.seen.__contains__, hashes))))
        if not missing:
            return
        ends = list(accumulate(map(len, map(_first, kept))))
        split = {}
        for at in missing:
            batch = bisect_right(ends, at)
            if batch not in split:
                split[batch] = kept[batch][2].split(",")
            offset = at - (ends[batch - 1] if batch else 0)
            self._dangling(split[batch][offset], kept[batch][1][offset])

    def _dangling(self, agent: str, line: int) -> None:
        if self.delta:  # a delta holds the rows that changed: the agent is most likely a user it did not change
            return
        self.report.warning(FILE, line, "agentSourcedIds", f"agentSourcedIds names {agent}, which is not a user in "
                            "users.csv; that contact is left out.", "Add the parent or guardian to users.csv or "
                            "correct the reference.", kind="agent-ref")


def _unknown_enabled(report: Report, line: int, sid: str, value: str) -> None:
    """An enabledUser that is not true or false: read as enabled (kept, never archived on a guess), and said so,
    since the SIS may have meant a turned-off account that then stays on the roster."""
    report.warning(FILE, line, "enabledUser", f"User {sid} has enabledUser {value.strip()!r}, which is neither true nor "
                   "false; the user is read as enabled and stays on the roster.", "Write true or false in enabledUser "
                   "(false for an account that is turned off), then send the bundle again.", kind="enabled")


def _names_column(value: str, column: str) -> bool:
    """The cell holds the column's own name, as a header does (any case, PowerSchool's `TABLE.` prefix allowed)."""
    return value.strip().lower().rpartition(".")[2] == column
