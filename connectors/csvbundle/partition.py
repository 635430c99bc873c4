"""One pass over a bundle's users.csv for several schools (a district CSV source): each record goes to every school
it belongs to, so receipt validates the file once and keeps each mapped school's records beside it.

    with open_bundle(path) as bundle:
        for pages in school_pages(bundle, {"994": {"student", "parent"}, "5": {"teacher"}}):
            ...   # {"994": [records…], "5": [records…]}: this stretch of the file, per school
"""
from collections.abc import Iterator

from ..records import ROLE_MAP, ROLES, PersonRecord, RecordProblem, unknown_role_here
from .errors import BundleInvalid
from .people import UserScan

_ROLE = PersonRecord._fields.index("role")
_SCHOOLS = PersonRecord._fields.index("school_ids")


def school_pages(bundle, schools: dict[str, set[str]], *, page_size: int = 1000) -> Iterator[dict[str, list]]:
    """Per stretch of users.csv (file order), each school's records for its roles: a parent goes to every school
    that syncs parents (the students naming them decide later), anyone else to the schools in their orgSourcedIds,
    and a row that could not be read to the schools it names (to every school when it names none it can be read
    for). The schools must be
    orgs.csv's (the caller checks); raises BundleInvalid, after the last page if need be, when the bundle has errors."""
    unknown = set().union(*schools.values()) - set(ROLES) if schools else set()
    if unknown:
        raise ValueError(f"Unknown roles {sorted(unknown)}; expected some of {ROLES}")
    if not bundle.report.applicable:
        raise BundleInvalid(bundle.report)
    by_lower = {school.lower(): school for school in schools}
    roles = {school: frozenset(wanted) for school, wanted in schools.items()}
    any_role = frozenset().union(*roles.values()) if roles else frozenset()
    parents_to = [school for school, wanted in roles.items() if "parent" in wanted]
    by_org = bundle.org_roles  # 1.2 users whose role differs by org: filed by the role held at each school
    if by_org:  # the scan judges them by their own role, which a school may not sync while their role there it does
        any_role = any_role | ({ROLE_MAP.get(bundle.roles[user][0].lower()) for user in by_org} - {None})

    def wanted(role, orgs) -> bool:
        if role is not None and role not in any_role:
            return False
        return role == "parent" or any(org.lower() in by_lower for org in orgs)

    delta = bundle.users_mode == "delta"
    for page in UserScan(bundle, wanted, bundle.report, defer=False, page_size=page_size).pages():
        out = {school: [] for school in schools}
        for item in page:
            if delta and type(item) is PersonRecord and item[_SCHOOLS] and item[_ROLE] != "parent":
                _left_elsewhere(item, out, by_lower)
            if type(item) is not PersonRecord:
                # a problem row goes to the schools it names, else (nothing it names could be read) to every school:
                # its sourcedId and message are another school's business, shown on each run page and report
                named = {by_lower.get(org.lower()) for org in getattr(item, "school_ids", ())} - {None}
                for school in named or schools:
                    out[school].append(item)
            elif not item[_SCHOOLS]:  # a deletion row naming no school: wherever the person is rostered
                for school in schools:
                    out[school].append(item)
            elif item[_ROLE] == "parent":
                for school in parents_to:
                    out[school].append(item)
            elif by_org and item.source_id in by_org:
                for school, person in _at_schools(item, by_org[item.source_id], by_lower):
                    if type(person) is RecordProblem or person.role in roles[school]:
                        out[school].append(person)
            else:
                for school in {by_lower.get(org.lower()) for org in item[_SCHOOLS]} - {None}:
                    if item[_ROLE] in roles[school]:
                        out[school].append(item)
        yield out
    if not bundle.report.applicable:
        raise BundleInvalid(bundle.report)


def _left_elsewhere(person: PersonRecord, out: dict[str, list], by_lower: dict) -> None:
    """A delta row is the user's whole current record: each mapped school it no longer names gets the row as a
    deletion naming no school (the planner acts only where the person is rostered), as a one-school read does."""
    named = {by_lower.get(org.lower()) for org in person.school_ids}
    left = None
    for school in out:
        if school not in named:
            left = left or person._replace(status="tobedeleted", school_ids=(), agent_ids=())
            out[school].append(left)


def _at_schools(person: PersonRecord, pairs: tuple, by_lower: dict
                ) -> Iterator[tuple[str, PersonRecord | RecordProblem]]:
    """(school, the person as that school sees them, or its issue) for each mapped school of the person's orgs."""
    held = {org.lower(): role for org, role in pairs}
    for school in {by_lower.get(org.lower()) for org in person.school_ids} - {None}:
        sis_role = held.get(school.lower())
        if sis_role is None:
            yield school, person
        elif (role := ROLE_MAP.get(sis_role.lower())) is not None:
            yield school, person._replace(role=role, sis_role=sis_role)
        elif sis_role:  # a role the portal does not map, at this school only: its issue, as an API read says
            yield school, RecordProblem(person.source_id, unknown_role_here(person, sis_role), "roles.csv",
                                        school_ids=(school,))
