"""A district night's read of one page: each record parsed and packed once, with what its routing needs.

The reader process (connectors.reader_process) runs this for every page so that decoding, normalising and packing
happen on another core than the routing and spooling (jobs.district_night.Router.file); pure for that reason.
A record is kept when the night files it somewhere: a person of the listing's roles, a parent when a school syncs
parent contact, and a record normalise_user refuses (each school whose own read would report it gets it raw).
"""
from .errors import BadResponse
from .packed import GS, pack_record
from .records import map_role, normalise_user, raw_role, routing_ids

PERSON, UNREADABLE, NOT_A_RECORD, AT_ORGS = "", "u", "x", "o"  # a head's kind
UNKNOWN_ROLE = "?"  # an AT_ORGS head's role at an org where the SIS gives one the portal does not map
# AT_ORGS: a 1.2 person whose role differs by org; the head's sixth value maps each such org (lower case) to the role
# held there (None: none the portal syncs, or none in effect), so the night files them by the role at each school.


def read_page(page: list, step_roles: frozenset[str], parents: bool) -> tuple[str, dict[int, tuple]]:
    """(payloads, heads): the packed payloads of the kept records, in page order, joined by GS (one string crosses
    the pipe faster than a list), and a (kind, role, org ids, agent ids, sourcedId) head for each one whose payload
    does not say them itself, by its place: an unreadable record, a person packed as JSON, or a sourcedId that is
    not the text normalise_user made of it (the night links parents by the sourcedId as sent). Most pages have
    none, so the reader builds and pickles no tuple per record and the parent splits the "P" payload instead."""
    heads: dict[int, tuple] = {}
    texts: list[str] = []
    for raw in page:
        try:
            person = normalise_user(raw)
        except BadResponse:
            head = _unreadable(raw, step_roles, parents)
            if head is not None:
                heads[len(texts)] = head
                texts.append(pack_record(raw, None))
            continue
        role = person.role
        if person.org_roles:
            head = _at_orgs(raw, person, step_roles, parents)
            if head is not None:
                heads[len(texts)] = head
                texts.append(pack_record(raw, person))
            continue
        if role not in step_roles or (role == "parent" and not parents):
            continue
        text = pack_record(raw, person)
        sid = raw["sourcedId"]
        if text[0] != "P" or sid != person.source_id:
            heads[len(texts)] = (PERSON, role, person.school_ids, person.agent_ids,
                                 sid if sid.__class__ is str else str(sid))
        texts.append(text)
    return GS.join(texts), heads


def _unreadable(raw, step_roles: frozenset[str], parents: bool) -> tuple | None:
    if not isinstance(raw, dict):  # a school's own read reports such a record: so does each school's
        return NOT_A_RECORD, None, (), (), ""
    role = map_role(raw_role(raw))
    if role is not None and (role not in step_roles or (role == "parent" and not parents)):
        return None
    orgs, agents = routing_ids(raw)
    sid = raw.get("sourcedId", "")
    return UNREADABLE, role, orgs, agents, sid if sid.__class__ is str else str(sid)


def _at_orgs(raw: dict, person, step_roles: frozenset[str], parents: bool) -> tuple | None:
    """The head of a person whose roles differ by org, or None when no role of theirs is one this listing files."""
    at = {org.lower(): (map_role(role) or UNKNOWN_ROLE) if role else None for org, role in person.org_roles}
    held = {person.role, *at.values()} - {None}
    if not any(r in step_roles and (r != "parent" or parents) for r in held) and UNKNOWN_ROLE not in held:
        return None
    sid = raw["sourcedId"]
    return (AT_ORGS, person.role, person.school_ids, person.agent_ids, sid if sid.__class__ is str else str(sid), at)
