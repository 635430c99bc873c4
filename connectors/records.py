"""Normalised people and schools built from raw OneRoster 1.1 and 1.2 records.

1.2 users (IMS OneRoster 1.2 Rostering information model) carry `roles[]` (roleType primary/secondary, role, org)
instead of `role` and `orgs`, and a `primaryOrg`; both are read here. Their `userProfiles` are accounts in other
applications (profileType, vendorId, credentials) that the portal does not keep: they are left unread, so a
malformed one never breaks a record.
"""
import json
import re
from dataclasses import dataclass, field
from itertools import chain, repeat
from typing import NamedTuple
from datetime import datetime, timezone

from .errors import BadResponse

ROLE_MAP = {
    "student": "student",
    "teacher": "teacher",
    "aide": "staff",
    "proctor": "staff",
    "counselor": "staff",
    "systemadministrator": "staff",
    "administrator": "school_admin",
    "principal": "school_admin",
    "siteadministrator": "school_admin",
    "districtadministrator": "school_admin",
    "parent": "parent",
    "guardian": "parent",
    "relative": "parent",
}
ROLES = ("student", "teacher", "staff", "school_admin", "parent")
# ROLE_MAP's roles as OneRoster spells them, for messages that say which roles the portal knows.
KNOWN_ROLES = ("student, teacher, aide, proctor, counselor, administrator, principal, siteAdministrator, "
               "districtAdministrator, systemAdministrator, parent, guardian, relative")
# Which of a person's roles at one org counts when none there is primary: the most privileged in the portal.
RANK = {"school_admin": 5, "teacher": 4, "staff": 3, "student": 2, "parent": 1}
_LEAVING_STATUSES = {"tobedeleted", "inactive", "deleted"}
# OneRoster org types other than school (the orgType vocabulary of 1.1 and 1.2, as listed on Microsoft's School
# Data Sync "default list of values", learn.microsoft.com/en-us/schooldatasync/default-list-of-values); an org
# without a type is kept. Taken as a school, such an org has every user of the district (or more) as its people.
NOT_SCHOOLS = frozenset({"district", "department", "local", "state", "national"})
# Characters no SIS value should hold: C0 controls and DEL, and lone surrogates. PostgreSQL text refuses NUL (its
# documentation, www.postgresql.org/docs/current/datatype-character.html: "the character with code zero (sometimes
# called NUL) cannot be stored"), so one NUL in one person's name failed the whole school's apply; JSON can carry a
# lone surrogate ("\ud800"; RFC 8259 §8.2 on such strings, not checked against a stored page here) but UTF-8, so
# the database, cannot (psycopg's encode raised UnicodeEncodeError: tests/jobs/test_hostile_text.py); the other controls
# are in no name or address and garble the report and digest emails built from them.
HOSTILE = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")
_SPACES = re.compile("[\t\n\v\f\r\x1c-\x1f]+")  # between words: a tab, a line break, a field separator
HOSTILE_HELP = ("control characters (such as a NUL byte or a line break) or broken Unicode (a lone surrogate), "
                "usually pasted in from another program")


class PersonRecord(NamedTuple):
    """One person as the sync engine sees them, whatever the SIS's spelling.

    A named tuple, not a dataclass: a frozen dataclass's __init__ sets each field through object.__setattr__, which
    cost ~5 µs a record (most of a million-user CSV bundle's read time); a tuple is built in a fraction of that.
    Copies with changes: `record._replace(...)`; as a dict: `record._asdict()`.
    """

    source_id: str
    role: str
    given_name: str
    family_name: str
    middle_name: str
    email: str
    username: str
    identifier: str
    grades: tuple[str, ...]
    phone: str
    status: str
    enabled: bool
    school_ids: tuple[str, ...]
    agent_ids: tuple[str, ...]
    date_last_modified: datetime | None
    sis_role: str
    legacy_id: str = ""  # the person's sourcedId before a move to OneRoster 1.2 (Infinite Campus sends it)
    # 1.2 only, and only where it differs from `sis_role`: (org sourcedId, the SIS role held at that org) pairs, a ""
    # role meaning none in effect there (every role at that org ended or not begun). Most people have none: ().
    org_roles: tuple[tuple[str, str], ...] = ()

    @property
    def is_leaving(self) -> bool:
        """True when the SIS says this person has left the roster."""
        return self.status == "tobedeleted" or not self.enabled


class PersonColumns:
    """A page of people given as columns (one list per PersonRecord field, in field order), its problems after them.

    A CSV bundle's runs read the records kept at receipt this way, so that the planner can take a page of plain new
    people column by column (jobs.plan_columns) instead of building and checking a PersonRecord each; anything
    that iterates the page still gets the records, then the problems, as from a list page."""

    __slots__ = ("columns", "count", "problems")

    def __init__(self, columns: list, count: int, problems: list | None = None):
        self.columns, self.count, self.problems = columns, count, problems if problems is not None else []

    def records(self) -> list[PersonRecord]:
        return list(map(tuple.__new__, repeat(PersonRecord), zip(*self.columns))) if self.count else []

    def __len__(self) -> int:
        return self.count + len(self.problems)

    def __iter__(self):
        return chain(self.records(), self.problems)


@dataclass(frozen=True)
class SchoolRecord:
    """One school (OneRoster org of type school)."""

    source_id: str
    name: str
    identifier: str


@dataclass(frozen=True)
class RecordProblem:
    """A record that could not be normalised; the engine records it as a per-record issue."""

    source_id: str
    message: str
    raw_excerpt: str
    # the orgs a CSV row names, when they could be read: a district bundle's problem goes to those schools only
    school_ids: tuple = field(default=(), compare=False, repr=False)

    def __post_init__(self):
        _clean_fields(self, ("source_id", "message", "raw_excerpt"))


@dataclass(frozen=True)
class RosterNotice:
    """Something the run should say about how the roster was read (which listing, unreadable dates)."""

    kind: str
    message: str

    def __post_init__(self):
        _clean_fields(self, ("message",))


def clean_text(value: str) -> str:
    """`value` as the database and an email can hold it: a tab, line break or separator becomes a space, any other
    control character or lone surrogate is dropped (HOSTILE)."""
    return _SPACES.sub(" ", value).translate(_DROP) if HOSTILE.search(value) else value


_DROP = dict.fromkeys([*range(0x20), 0x7F, *range(0xD800, 0xE000)])


def _clean_fields(obj, names) -> None:
    """Clean a frozen problem's or notice's texts: they quote SIS values, and are stored and emailed (every reader
    builds them through here, so none can fail the run's write of its issues)."""
    for name in names:
        value = getattr(obj, name)
        if value.__class__ is str and HOSTILE.search(value):
            object.__setattr__(obj, name, clean_text(value))


def excerpt(raw, limit: int = 300) -> str:
    """A short JSON rendering of a raw record for problem reports."""
    try:
        text = json.dumps(raw, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(raw)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _text(value) -> str:
    if value.__class__ is str:  # nearly every value: the checks below cost more than the strip
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value).strip()
    return ""


def _ids(value) -> tuple[str, ...]:
    """sourcedIds from a GUIDRef list ({sourcedId, href, type}); bare strings accepted too."""
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        return ()
    if len(value) == 1 and value[0].__class__ is dict:  # most people: one org, one agent
        sid = _text(value[0].get("sourcedId"))
        return (sid,) if sid else ()
    ids = []
    for item in value:
        sid = _text(item.get("sourcedId")) if isinstance(item, dict) else _text(item)
        if sid and sid not in ids:
            ids.append(sid)
    return tuple(ids)


def _grades(value) -> tuple[str, ...]:
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list):
        return ()
    return tuple(g for v in value if (g := _text(v)))


def _enabled(value) -> bool:
    if value is None or value == "":
        return True
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() not in {"false", "0", "no"}


# A time's short UTC offset as some servers send it: "...000-7", "+5:30" (ISO wants "-07:00", "+05:30").
_SHORT_OFFSET = re.compile(r"(?<=\d)([+-])(\d{1,2})(?::?(\d{2}))?$")


def parse_datetime(value) -> datetime | None:
    """ISO-8601 as an aware UTC datetime; None if unusable.

    Accepts what vendors send: `Z`, `+00:00`, fractions, a space for `T` (`2017-09-21 07:11:54`), date only,
    and one-digit offsets (`2017-09-20T00:53:10.000-7`); no offset means UTC.
    """
    text = _text(value)
    if not text:
        return None
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    elif "T" in text.upper() or " " in text:
        text = _SHORT_OFFSET.sub(lambda m: f"{m[1]}{int(m[2]):02d}:{m[3] or '00'}", text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=timezone.utc)  # astimezone to its own zone would return it as it is
    if parsed.tzinfo is timezone.utc:
        return parsed
    try:
        return parsed.astimezone(timezone.utc)
    except OverflowError:  # e.g. year 1 with a +14:00 offset falls before datetime.min in UTC
        return None


def raw_role(raw: dict) -> str:
    """The SIS's role string: 1.1 `role`, else of 1.2 `roles[]` the primary (or first) entry whose role the portal
    maps, else the primary (or first) entry (as _roles_12 picks the person's role)."""
    role = _text(raw.get("role"))
    if role:
        return role
    roles = raw.get("roles")
    if isinstance(roles, list):
        entries = [r for r in roles if isinstance(r, dict) and _text(r.get("role"))]
        primary = [r for r in entries if _text(r.get("roleType")).lower() == "primary"]
        ordered = primary + entries
        for entry in [r for r in ordered if _text(r.get("role")).lower() in ROLE_MAP] + ordered:
            return _text(entry.get("role"))
    return ""


def map_role(sis_role: str) -> str | None:
    """Our role for a SIS role string, or None when the role is unknown."""
    return ROLE_MAP.get(sis_role.strip().lower())


def _role_orgs(raw: dict) -> tuple[str, ...]:
    roles = raw.get("roles")
    if not isinstance(roles, list):
        return ()
    return _ids([r.get("org") for r in roles if isinstance(r, dict) and r.get("org")])


def legacy_source_id(raw: dict) -> str:
    """Infinite Campus' `metadata.ic.legacysourceId`: the 1.1 sourcedId without its role prefix
    (kb.infinitecampus.com/help/oneroster---whats-new-in-12, "User SourcedIds"). Read as a dotted key inside
    metadata or as nested objects; "" when absent or not text."""
    metadata = raw.get("metadata")
    if not isinstance(metadata, dict):
        return ""
    value = metadata.get("ic.legacysourceId")
    if value is None and isinstance(metadata.get("ic"), dict):
        value = metadata["ic"].get("legacysourceId")
    return _text(value)


def normalise_user(raw: dict) -> PersonRecord:
    """Build a PersonRecord; raises BadResponse naming the problem when the record is unusable.

    Every field is read the way _text, _ids, _grades, _enabled and legacy_source_id read it, with the common
    already-clean JSON values (a str, one org, no 1.2 fields, empty metadata) handled in line: a district night
    normalises each of a million records, and a call per field was half of that. Anything else goes to the helper.
    """
    if raw.__class__ is not dict and not isinstance(raw, dict):
        raise BadResponse(f"A user record is not a JSON object: {excerpt(raw, 80)}")
    get = raw.get
    v = get("sourcedId")
    source_id = v.strip() if v.__class__ is str else _text(v)
    if not source_id:
        raise BadResponse("A user record has no sourcedId, so it cannot be matched.")
    v = get("role")
    sis_role = v.strip() if v.__class__ is str else _text(v)
    org_roles = ()
    if not sis_role:  # 1.2: roles[] (a 1.1 user's single `role` is read as before)
        sis_role, org_roles = _roles_12(get("roles"))
    role = ROLE_MAP.get(sis_role.lower())  # map_role; sis_role is stripped already
    if role is None and HOSTILE.search(sis_role):  # "student\x00" is a student: cleaned as every value is
        sis_role = clean_text(sis_role).strip()
        role = ROLE_MAP.get(sis_role.lower())
    if role is None:
        shown = f"'{sis_role}'" if sis_role else "no role"
        raise BadResponse(f"User {source_id} has {shown}; expected one of {KNOWN_ROLES}.")
    v = get("givenName")
    given = v.strip() if v.__class__ is str else _text(v)
    v = get("familyName")
    family = v.strip() if v.__class__ is str else _text(v)
    if not given and not family:
        raise BadResponse(f"User {source_id} ({sis_role}) has no givenName or familyName.")
    v = get("status")
    status = (v.strip() if v.__class__ is str else _text(v)).lower()
    school_ids = _one_id(get("orgs"))
    if get("roles") is not None or get("primaryOrg") is not None:
        school_ids = _with_12_orgs(raw, school_ids)
        if org_roles:
            school_ids = _without_ended(school_ids, org_roles)
    v = get("middleName")
    middle = v.strip() if v.__class__ is str else _text(v)
    v = get("email")
    email = v.strip() if v.__class__ is str else _text(v)
    v = get("username")
    username = v.strip() if v.__class__ is str else _text(v)
    v = get("identifier")
    identifier = v.strip() if v.__class__ is str else _text(v)
    v = get("grades")
    if v.__class__ is list:
        grades = tuple([g for x in v if (g := x.strip() if x.__class__ is str else _text(x))]) if v else ()
    else:
        grades = _grades(v)
    v = get("phone")
    phone = v.strip() if v.__class__ is str else _text(v)
    if not phone:
        phone = _text(get("sms"))
    v = get("enabledUser")
    enabled = v if v is True or v is False else _enabled(v)
    v = get("metadata")
    legacy = "" if v is None or (v.__class__ is dict and not v) else legacy_source_id(raw)
    agent_ids = _one_id(get("agents"))
    values = (source_id, role, given, family, middle, email, username, identifier, grades, phone,
              "tobedeleted" if status in _LEAVING_STATUSES else "active", enabled, school_ids, agent_ids,
              parse_datetime(get("dateLastModified")), sis_role, legacy, org_roles)
    # One look over the record's texts (its fields are cleaned only when it finds something): every reader of the
    # API, the single school's and the district night's, builds its people here. isprintable (in C) clears nearly
    # every record at a third of the regex's cost; only a record it doubts (a control, a surrogate, or merely a
    # no-break space) is searched.
    text = "".join((source_id, given, family, middle, email, username, identifier, phone, sis_role, legacy)
                   + grades + school_ids + agent_ids)
    if org_roles:
        text += "".join(chain.from_iterable(org_roles))
    if not text.isprintable() and HOSTILE.search(text):
        values = _cleaned(values)
    return _tuple_new(PersonRecord, values)


def _cleaned(values: tuple) -> tuple:
    """A record's values without HOSTILE characters; refuses (BadResponse) a sourcedId holding them: cleaned, it
    could be another person's, and it is the person's key in every later sync."""
    source_id = values[0]
    if HOSTILE.search(source_id):
        shown = clean_text(source_id)
        raise BadResponse(f"User {shown} was not synced: their sourcedId holds {HOSTILE_HELP}, so the portal cannot "
                          f"match them safely. Ask the SIS vendor to remove those characters from this person's "
                          f"sourcedId, then sync again.")
    out = []
    for value in values:
        if value.__class__ is str:
            value = clean_text(value).strip()
        elif value.__class__ is tuple:
            value = tuple(v for v in (_cleaned_item(x) for x in value) if v)
        out.append(value)
    if not out[2] and not out[3]:
        raise BadResponse(f"User {source_id} ({out[15]}) has no givenName or familyName: theirs hold only "
                          f"{HOSTILE_HELP}. Type the name again in the SIS, then sync again.")
    return tuple(out)


def _cleaned_item(value):
    """One grade or id (a str), or one 1.2 (org, role) pair, cleaned."""
    if value.__class__ is str:
        return clean_text(value).strip()
    return tuple(clean_text(v).strip() for v in value)


_tuple_new = tuple.__new__  # PersonRecord(...) by keyword cost ~1 µs a record; the fields are in declared order


def _one_id(value) -> tuple[str, ...]:
    """_ids(value), with the usual one GUIDRef whose sourcedId is a str read without the general loop."""
    if value.__class__ is list and len(value) == 1:
        ref = value[0]
        if ref.__class__ is dict:
            sid = ref.get("sourcedId")
            if sid.__class__ is str:
                sid = sid.strip()
                return (sid,) if sid else ()
    return _ids(value)


def _with_12_orgs(raw: dict, orgs: tuple[str, ...]) -> tuple[str, ...]:
    """`orgs` followed by the orgs of 1.2's roles[] and primaryOrg, each once (_ids has made `orgs` unique)."""
    more = _role_orgs(raw) + _ids(raw.get("primaryOrg"))
    return tuple(dict.fromkeys(orgs + more)) if more else orgs


def _roles_12(roles) -> tuple[str, tuple[tuple[str, str], ...]]:
    """(the person's role, the roles that differ from it by org) from 1.2 `roles[]`.

    The person's role is raw_role's (the primary entry, else the first) among the roles in effect today; at each org
    the role held there counts: the primary one, else the most privileged (RANK). A role whose endDate has passed or
    whose beginDate is still ahead is not in effect: the IMS OneRoster 1.2 Rostering information model gives each
    role optional beginDate and endDate (https://standards.1edtech.org/oneroster/specifications/standards/v1p2/
    services/rostering/im; the stored excerpt of that page stops before the Role class, and a vendor's rendering
    of it, docs.platform.timeback.com/api-reference/model/OneRosterUserRoleOutput, lists roleType, role, org,
    beginDate, endDate, userProfile). A date that cannot be read leaves the role in effect (nobody is dropped on it).
    """
    if roles.__class__ is not list or not roles:
        return "", ()
    if len(roles) == 1:  # nearly every 1.2 user: one role, no dates, nothing differs by org
        entry = roles[0]
        if entry.__class__ is dict and entry.get("endDate") is None and entry.get("beginDate") is None:
            return _text(entry.get("role")), ()
    today = datetime.now(timezone.utc).date()
    entries = []  # (in effect, primary, SIS role, org)
    for entry in roles:
        if not isinstance(entry, dict) or not (role := _text(entry.get("role"))):
            continue
        org = _ids(entry.get("org"))
        entries.append((in_effect(entry.get("beginDate"), entry.get("endDate"), today),
                        _text(entry.get("roleType")).lower() == "primary", role, org[0] if org else ""))
    live = [e for e in entries if e[0]] or entries
    # A role the portal does not map (say "janitor") as the person's own role would refuse them everywhere: their
    # known role is theirs, and the org of the other is reported there (connectors.people.unknown_role_problem).
    pick = [e for e in live if e[2].lower() in ROLE_MAP] or live
    person = next((e[2] for e in pick if e[1]), pick[0][2] if pick else "")
    at: dict[str, list] = {}
    for entry in entries:
        if entry[3]:
            at.setdefault(entry[3], []).append(entry)
    differ = []
    for org, held in at.items():
        here = [e for e in held if e[0]]
        role = max(here, key=_precedence)[2] if here else ""
        if role != person:
            differ.append((org, role))
    return person, tuple(differ)


def _precedence(entry) -> tuple[bool, int]:
    return entry[1], RANK.get(ROLE_MAP.get(entry[2].lower()), 0)


def in_effect(begin, end, today) -> bool:
    """False when a role's endDate is before today or its beginDate after it (both dates inclusive)."""
    if end not in (None, "") and (ended := parse_datetime(end)) is not None and ended.date() < today:
        return False
    return not (begin not in (None, "") and (begins := parse_datetime(begin)) is not None and begins.date() > today)


def _without_ended(orgs: tuple[str, ...], org_roles) -> tuple[str, ...]:
    """The orgs, less those where no role of the person is in effect (they are not that org's any more)."""
    gone = {org.lower() for org, role in org_roles if not role}
    return tuple(o for o in orgs if o.lower() not in gone) if gone else orgs


def at_school(person: PersonRecord, school_id: str) -> PersonRecord | None:
    """The person as one school sees them: with the role they hold at that org (1.2), None when they hold none
    there in effect or one the portal does not sync. Someone whose role is the same everywhere is returned as is."""
    wanted = school_id.lower()
    for org, sis_role in person.org_roles:
        if org.lower() == wanted:
            role = ROLE_MAP.get(sis_role.lower()) if sis_role else None
            return person._replace(role=role, sis_role=sis_role) if role else None
    return person


def role_unknown_at(person: PersonRecord, school_id: str) -> str:
    """The SIS role the person holds at this org when the portal does not map it ("" when it does, or none)."""
    wanted = school_id.lower()
    for org, sis_role in person.org_roles:
        if org.lower() == wanted:
            return sis_role if sis_role and sis_role.lower() not in ROLE_MAP else ""
    return ""


def unknown_role_here(person: PersonRecord, sis_role: str) -> str:
    """A school's issue for a person whose role at that school is `sis_role`, which the portal does not map."""
    name = f"{person.given_name} {person.family_name}".strip()
    return (f"{name} ({person.source_id}) was not synced at this school: the SIS gives them the role '{sis_role}' "
            f"here, which the portal does not know. Their other schools are not affected. In the SIS, give them one "
            f"of the roles {KNOWN_ROLES} at this school, then sync again.")


def org_ids(raw: dict) -> tuple[str, ...]:
    """Every org a raw user names, as normalise_user reads them: 1.1 `orgs`, then 1.2 `roles[].org` and
    `primaryOrg`. Also for a record normalise_user refuses: a 1.2 user names its school only in the latter two."""
    orgs = _one_id(raw.get("orgs"))
    return _with_12_orgs(raw, orgs) if raw.get("roles") is not None or raw.get("primaryOrg") is not None else orgs


def routing_ids(raw: dict) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(org ids, agent ids) of a raw user as normalise_user reads them, without building the record."""
    return org_ids(raw), _ids(raw.get("agents"))


def normalise_school(raw: dict) -> SchoolRecord:
    """Build a SchoolRecord; raises BadResponse when sourcedId is missing."""
    if not isinstance(raw, dict) or not _text(raw.get("sourcedId")):
        raise BadResponse(f"A school record has no sourcedId: {excerpt(raw, 80)}")
    return SchoolRecord(source_id=_text(raw["sourcedId"]), name=_text(raw.get("name")),
                        identifier=_text(raw.get("identifier")))
