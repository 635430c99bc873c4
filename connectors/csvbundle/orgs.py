"""orgs.csv (read first: every user's orgSourcedIds must point at one of its rows) and 1.2's roles.csv."""
from datetime import datetime, timezone

from ..records import RANK, ROLE_MAP, SchoolRecord, in_effect, parse_datetime
from .report import Report
from .spec import COLUMNS, REQUIRED
from .tables import Header, read_rows


def read_orgs(files, version: str, report: Report, max_line_bytes: int, *, delta: bool = False
              ) -> dict[str, tuple[str, SchoolRecord]]:
    """sourcedId -> (type, SchoolRecord) for every org row; duplicates are errors. A delta orgs.csv may list none."""
    orgs: dict[str, tuple[str, SchoolRecord]] = {}
    key = "orgs.csv"
    errors, header = report.error_count, None
    stream = files.open(key)
    try:
        for item in read_rows(stream, key, COLUMNS[(version, key)], REQUIRED[(version, key)], report,
                              max_line_bytes):
            if isinstance(item, Header):
                at, header = [item.index.get(c, item.width) for c in ("sourcedId", "name", "type", "identifier")], item
                continue
            line, row = item
            row.append("")
            sid, name, kind, identifier = (row[i].strip() for i in at)
            if not sid:
                report.warning(key, line, "sourcedId", "The org has no sourcedId, so no user can point at it; the "
                               "row is skipped.", "Give every org a sourcedId in the SIS export.", kind="org-no-id")
            elif sid in orgs:
                report.error(key, line, "sourcedId", f"sourcedId {sid} is used by an earlier org row too.",
                             "Give every org its own sourcedId; remove the repeated row.", kind="org-dup")
            else:
                orgs[sid] = (kind.lower(), SchoolRecord(source_id=sid, name=name, identifier=identifier))
    finally:
        stream.close()
    if header is not None and header.usable and not orgs and report.error_count == errors and not delta:
        report.error(key, 0, "", "orgs.csv has a header but no orgs, so no school can be found in it.",
                     "Check the export's filters in the SIS, then send the bundle again.")
    return orgs


def read_roles(files, report: Report, orgs: dict, max_line_bytes: int, orgs_unchecked: bool = False
               ) -> tuple[dict[str, tuple[str, tuple[str, ...]]], dict[str, tuple[tuple[str, str], ...]]]:
    """1.2 roles.csv: (userSourcedId -> (role, orgSourcedIds), userSourcedId -> the (org, role) pairs where the role
    held at an org differs from that role). The primary role wins, orgs are merged; at one org the primary role
    counts, else the most privileged (records.RANK). A row whose endDate has passed or whose beginDate is ahead does
    not count: without a role in effect at an org the user is not that org's (every role ended: nobody's)."""
    key = "roles.csv"
    roles: dict[str, tuple[str, tuple[str, ...]]] = {}
    primary: set[str] = set()
    several: dict[str, list[tuple[str, bool, str]]] = {}  # every row in effect of a user with more than one
    ended: dict[str, str] = {}  # a role of each user with a row not in effect (the role of one with none in effect)
    canonical: dict[str, str] = {}  # one string object per distinct role/org value, shared by every user
    dates: dict[str, bool] = {}  # beginDate/endDate text -> readable, each distinct value parsed once
    # orgSourcedId matches orgs.csv in any case, as users.csv's orgSourcedIds and the reader's schools do: "S1" is
    # read as s1's, so it must not be reported as an org to add
    orgs_lower = frozenset(sid.lower() for sid in orgs)
    today = datetime.now(timezone.utc).date()
    stream = files.open(key)
    try:
        for item in read_rows(stream, key, COLUMNS[("1.2", key)], REQUIRED[("1.2", key)], report, max_line_bytes):
            if isinstance(item, Header):
                at = [item.index.get(c, item.width) for c in ("userSourcedId", "role", "roleType", "orgSourcedId",
                                                               "status", "beginDate", "endDate")]
                continue
            line, row = item
            row.append("")
            user, role, role_type, org, status, begin, end = (row[i].strip() for i in at)
            if status.lower() == "tobedeleted" or not user:
                continue
            if org and not orgs_unchecked and org not in orgs and org.lower() not in orgs_lower:
                report.warning(key, line, "orgSourcedId", f"orgSourcedId {org} is not an org in orgs.csv.",
                               "Add the org to orgs.csv or correct the reference.", kind="role-org")
            role = canonical.setdefault(role, role)
            org = canonical.setdefault(org, org)
            if begin or end:
                _check_dates(report, line, user, begin, end, dates)
            if (begin or end) and not in_effect(begin, end, today):
                ended.setdefault(user, role)
                continue
            is_primary = role_type.lower() == "primary"
            known = roles.get(user)
            if known is None:
                roles[user] = (role, (org,) if org else ())
            else:
                if user not in several:  # its one row before this: primary if `primary` holds the user
                    several[user] = [(known[0], user in primary, known[1][0] if known[1] else "")]
                several[user].append((role, is_primary, org))
                merged = known[1] + ((org,) if org and org not in known[1] else ())
                takes = is_primary and user not in primary
                roles[user] = (role if takes else known[0], merged)
            if is_primary:
                primary.add(user)
    finally:
        stream.close()
    for user, role in ended.items():
        roles.setdefault(user, (role, ()))  # a role, so the user is no "no role" problem, and no school's
    for user, rows in several.items():
        if roles[user][0].lower() not in ROLE_MAP:
            roles[user] = (_known_role(rows, roles[user][0]), roles[user][1])
    return roles, _differing(roles, several)


def _check_dates(report: Report, line: int, user: str, begin: str, end: str, dates: dict) -> None:
    """Name a beginDate or endDate that is not a date: in_effect reads past it, so a role whose end was written
    06/30/2026 would stay in effect (the user kept at that school) without a word. The spec's dates are ISO 8601
    (YYYY-MM-DD: OneRoster 1.2 CSV binding, https://www.imsglobal.org/spec/oneroster/v1p2/bind/csv/, and Microsoft
    SDS, "Date or DateTime: ISO8601",
    https://learn.microsoft.com/en-us/schooldatasync/data-ingestion-wiith-oneroster-1.2-csv); 12/01/2026 is not
    guessed as December or January."""
    if len(dates) >= 4096:  # per-user dates: remembered up to a bound, as people.UserScan does
        dates.clear()
    for column, text in (("beginDate", begin), ("endDate", end)):
        if not text:
            continue
        readable = dates.get(text)
        if readable is None:
            readable = dates[text] = parse_datetime(text) is not None
        if not readable:
            report.warning("roles.csv", line, column, f"The role of {user} has {column} {text!r}, which is not a date "
                           "in the form the spec asks (YYYY-MM-DD); the role is read as if it had no "
                           f"{column}, so it counts as in effect.", f"Write {column} like 2026-06-30 in the SIS "
                           "export, then send the bundle again.", kind="role-date")


def _known_role(rows: list[tuple[str, bool, str]], role: str) -> str:
    """A role the portal maps in place of `role`, which it does not ("janitor"): as the user's own role it refused
    them at every school, the one where they teach too. The primary such row, else the first (as records._roles_12
    picks); `role` when none is known. Its org then differs and reports the unknown role there."""
    known = [row for row in rows if row[0].lower() in ROLE_MAP]
    return next((r for r, is_primary, _ in known if is_primary), known[0][0] if known else role)


def _precedence(held: tuple) -> tuple:
    return held[0], held[1]  # primary, then rank: the first of equals wins, as in records._roles_12


def _differing(roles: dict, several: dict) -> dict[str, tuple[tuple[str, str], ...]]:
    out = {}
    for user, rows in several.items():
        person = roles[user][0]
        at: dict[str, list] = {}
        for role, is_primary, org in rows:
            if org:
                at.setdefault(org, []).append((is_primary, RANK.get(ROLE_MAP.get(role.lower()), 0), role))
        differ = tuple((org, here) for org, held in at.items() if (here := max(held, key=_precedence)[2]) != person)
        if differ:
            out[user] = differ
    return out
