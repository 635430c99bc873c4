"""orgs.csv (read first: every user's orgSourcedIds must point at one of its rows) and 1.2's roles.csv."""
from ..records import SchoolRecord
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


def read_roles(files, report: Report, orgs: dict, max_line_bytes: int) -> dict[str, tuple[str, tuple[str, ...]]]:
    """1.2 roles.csv: userSourcedId -> (role, orgSourcedIds); the primary role wins, orgs are merged."""
    key = "roles.csv"
    roles: dict[str, tuple[str, tuple[str, ...]]] = {}
    primary: set[str] = set()
    canonical: dict[str, str] = {}  # one string object per distinct role/org value, shared by every user
    stream = files.open(key)
    try:
        for item in read_rows(stream, key, COLUMNS[("1.2", key)], REQUIRED[("1.2", key)], report, max_line_bytes):
            if isinstance(item, Header):
                at = [item.index.get(c, item.width) for c in ("userSourcedId", "role", "roleType", "orgSourcedId",
                                                               "status")]
                continue
            line, row = item
            row.append("")
            user, role, role_type, org, status = (row[i].strip() for i in at)
            if status.lower() == "tobedeleted" or not user:
                continue
            if org and org not in orgs:
                report.warning(key, line, "orgSourcedId", f"orgSourcedId {org} is not an org in orgs.csv.",
                               "Add the org to orgs.csv or correct the reference.", kind="role-org")
            role = canonical.setdefault(role, role)
            org = canonical.setdefault(org, org)
            known = roles.get(user)
            if known is None:
                roles[user] = (role, (org,) if org else ())
            else:
                merged = known[1] + ((org,) if org and org not in known[1] else ())
                takes = role_type.lower() == "primary" and user not in primary
                roles[user] = (role if takes else known[0], merged)
            if role_type.lower() == "primary":
                primary.add(user)
    finally:
        stream.close()
    return roles
