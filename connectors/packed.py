"""The spool's row format: one record packed as a line of separated fields (or JSON when it cannot be).

Pure (no Flask, no database) because the district night's reader process packs every record it reads and the
parent files the packed text; jobs.spool reads it back (unpack_record) for each school.
"""
import json
import re
from datetime import datetime

from .records import PersonRecord

_SURROGATE = re.compile("[\ud800-\udfff]")

FS, RS = "\x1f", "\x1e"  # field and list separators of a compact payload (control characters no SIS sends)
PS = "\x1c"  # between the org and the role of one of a person's org_roles pairs
GS = "\x1d"  # between packed records handed over in one piece (a "P" payload never holds it; JSON escapes it)


def pack_record(raw, person: PersonRecord | None) -> str:
    """A spool payload: the record as normalise_user read it (parsed once for every school it goes to), or the
    raw record when it could not be read ("R" + JSON), so each school reports it as its own read would have.

    A person is one line of separated fields ("P…"), about half the cost of JSON to write and a third less to read
    back: the read of a 1,000,000-person district packs every record once and each school unpacks its own. A person
    with a separator, a GS or a NUL in a value (which PostgreSQL text cannot hold) goes as JSON ("J…") instead.
    """
    if person is None:
        return "R" + _json(raw)
    p, modified = person, person.date_last_modified
    given = raw.get("dateLastModified") if isinstance(raw, dict) else None
    if given is not None and not isinstance(given, str):
        return _packed_json(p, given)
    org_roles = p.org_roles
    at_orgs = ""
    if org_roles:  # rare: only 1.2 people whose role differs by org
        at_orgs = RS.join([org + PS + role for org, role in org_roles])
        if at_orgs.count(PS) != len(org_roles) or at_orgs.count(RS) != len(org_roles) - 1:
            return _packed_json(p, given)
    text = FS.join(("P", p.source_id, p.role, p.given_name, p.family_name, p.middle_name, p.email, p.username,
                    p.identifier, RS.join(p.grades), p.phone, p.status, "1" if p.enabled else "", RS.join(p.school_ids),
                    RS.join(p.agent_ids), _date_text(modified, given) if modified else "", p.sis_role, p.legacy_id,
                    given or "", at_orgs))
    lists = len(p.grades) + len(p.school_ids) + len(p.agent_ids)
    lists -= bool(p.grades) + bool(p.school_ids) + bool(p.agent_ids)
    if org_roles:
        lists += len(org_roles) - 1
    if text.count(FS) != 19 or text.count(RS) != lists or "\x00" in text or GS in text:
        return _packed_json(p, given)
    return text


def _date_text(modified: datetime, given: str | None) -> str:
    """Text that datetime.fromisoformat reads back as `modified` exactly: the SIS's own dateLastModified when it
    does (the usual "…Z"; formatting with isoformat was a quarter of pack_record), else modified.isoformat()."""
    if given:
        try:
            back = datetime.fromisoformat(given)
        except ValueError:
            back = None
        if back is not None and back.tzinfo is modified.tzinfo and back == modified:  # same zone, same instant
            return given
    return modified.isoformat()


def _packed_json(p: PersonRecord, given) -> str:
    modified = p.date_last_modified
    return "J" + _json(["P", p.source_id, p.role, p.given_name, p.family_name, p.middle_name, p.email, p.username,
                        p.identifier, p.grades, p.phone, p.status, p.enabled, p.school_ids, p.agent_ids,
                        modified.isoformat() if modified else "", p.sis_role, p.legacy_id, given, p.org_roles])


def _json(value) -> str:
    """Compact JSON the spool's text column can hold: a lone surrogate (records.HOSTILE; a raw record or a raw
    dateLastModified may keep one) is \\u-escaped, as UTF-8 cannot carry it, and json.loads gives it back."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return json.dumps(value, separators=(",", ":")) if _SURROGATE.search(text) else text
