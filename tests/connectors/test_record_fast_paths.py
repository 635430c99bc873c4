"""normalise_user reads clean values in line (a district night normalises a million records): whatever a SIS sends,
it must give exactly what reading every field through the helpers gives, the same person or the same refusal."""
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.errors import BadResponse
from connectors.records import (HOSTILE, KNOWN_ROLES, _LEAVING_STATUSES, _SHORT_OFFSET, PersonRecord, _cleaned,
                                _enabled, _grades, _ids, _role_orgs, _roles_12, _text, _without_ended, excerpt,
                                clean_text, legacy_source_id, map_role, normalise_user, parse_datetime,
                                raw_role)


def field_by_field(raw) -> PersonRecord:
    """normalise_user as it was before the in-line reads: every field through its helper."""
    if not isinstance(raw, dict):
        raise BadResponse(f"A user record is not a JSON object: {excerpt(raw, 80)}")
    source_id = _text(raw.get("sourcedId"))
    if not source_id:
        raise BadResponse("A user record has no sourcedId, so it cannot be matched.")
    sis_role = raw_role(raw)
    role = map_role(sis_role)
    if role is None and HOSTILE.search(sis_role):  # a role is cleaned before it is mapped ("student\x00")
        sis_role = clean_text(sis_role).strip()
        role = map_role(sis_role)
    if role is None:
        shown = f"'{sis_role}'" if sis_role else "no role"
        raise BadResponse(f"User {source_id} has {shown}; expected one of {KNOWN_ROLES}.")
    given_name, family = _text(raw.get("givenName")), _text(raw.get("familyName"))
    if not given_name and not family:
        raise BadResponse(f"User {source_id} ({sis_role}) has no givenName or familyName.")
    status = _text(raw.get("status")).lower()
    school_ids = _ids(raw.get("orgs"))
    more = _role_orgs(raw) + _ids(raw.get("primaryOrg"))
    if more:
        school_ids = tuple(dict.fromkeys(school_ids + more))
    org_roles = () if _text(raw.get("role")) else _roles_12(raw.get("roles"))[1]  # a 1.1 `role` wins, as before
    if org_roles:
        school_ids = _without_ended(school_ids, org_roles)
    return _as_cleaned(PersonRecord(
        source_id=source_id, role=role, given_name=given_name, family_name=family,
        middle_name=_text(raw.get("middleName")), email=_text(raw.get("email")), username=_text(raw.get("username")),
        identifier=_text(raw.get("identifier")), grades=_grades(raw.get("grades")),
        phone=_text(raw.get("phone")) or _text(raw.get("sms")),
        status="tobedeleted" if status in _LEAVING_STATUSES else "active", enabled=_enabled(raw.get("enabledUser")),
        school_ids=school_ids, agent_ids=_ids(raw.get("agents")),
        date_last_modified=_old_parse(raw.get("dateLastModified")), sis_role=sis_role, legacy_id=legacy_source_id(raw),
        org_roles=org_roles))


def _as_cleaned(record: PersonRecord) -> PersonRecord:
    """The record as normalise_user's last step leaves it: a value holding HOSTILE characters cleaned (or refused)."""
    texts = [v for v in record if isinstance(v, str)]
    for value in record:
        if isinstance(value, tuple):
            texts += [x for item in value for x in ((item,) if isinstance(item, str) else item)]
    return PersonRecord(*_cleaned(tuple(record))) if HOSTILE.search("".join(texts)) else record


def _old_parse(value):
    """parse_datetime before its early returns: every parse through astimezone."""
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
        parsed = parsed.replace(tzinfo=timezone.utc)
    try:
        return parsed.astimezone(timezone.utc)
    except OverflowError:
        return None


def outcome(read, raw):
    try:
        return "person", repr(read(raw))  # repr: a datetime's zone and every tuple's element types count too
    except BadResponse as exc:
        return "refused", exc.message


ids = st.sampled_from(["u1", " u1 ", "u1\n", "\u00a0u1", "", "   ", "U1", "é"])
texts = st.one_of(ids, st.text(max_size=6), st.none(), st.integers(-3, 3), st.floats(allow_nan=False),
                  st.booleans(), st.just([]), st.just({}))
refs = st.one_of(st.builds(dict, sourcedId=texts), st.builds(dict, sourcedId=texts, type=st.just("org")),
                 texts, st.just({}))
id_lists = st.one_of(st.lists(refs, max_size=3), refs, st.none())
dates = st.sampled_from(["2025-09-14T00:20:58.000Z", "2025-09-14T00:20:58Z", "2025-09-14 00:20:58",
                         "2025-09-14T00:20:58.000-7", "2025-09-14T00:20:58+00:00", "2025-09-14T00:20:58+05:30",
                         "2025-09-14", " 2025-09-14T00:20:58z ", "09/21/2017", "0001-01-01T00:00:00+14:00",
                         "9999-12-31T23:59:59-23:59", "", None, 5, "2025-09-14T00:20:58.000Z+00:00"])
records = st.fixed_dictionaries({}, optional={
    "sourcedId": ids, "role": st.one_of(st.sampled_from(["student", " Teacher ", "GUARDIAN", "janitor", "", " "]),
                                        texts),
    "roles": st.one_of(st.none(), st.lists(st.fixed_dictionaries(
        {"role": st.sampled_from(["principal", "teacher", "", "aide"])},
        optional={"roleType": st.sampled_from(["primary", "secondary", " Primary "]), "org": refs}), max_size=2)),
    "primaryOrg": st.one_of(st.none(), refs), "givenName": texts, "familyName": texts, "middleName": texts,
    "status": st.one_of(st.sampled_from(["active", " ToBeDeleted ", "inactive", "DELETED"]), texts),
    "orgs": id_lists, "agents": id_lists, "email": texts, "username": texts, "identifier": texts,
    "grades": st.one_of(st.lists(texts, max_size=3), st.sampled_from(["09", " 09, 10 ", ",", ""]), texts),
    "phone": texts, "sms": texts, "enabledUser": st.one_of(st.sampled_from(["true", "false", " No ", "0", ""]), texts),
    "dateLastModified": dates,
    "metadata": st.one_of(st.none(), st.just({}), st.just([]), st.just("x"),
                          st.builds(dict, **{"ic.legacysourceId": texts}), st.builds(dict, ic=st.builds(
                              dict, legacysourceId=texts)), st.builds(dict, ic=texts))})


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records)
def test_in_line_reads_give_what_the_helpers_give(raw):
    assert outcome(normalise_user, raw) == outcome(field_by_field, raw)


@pytest.mark.parametrize("raw", [
    {"sourcedId": " s1 ", "role": " Student ", "givenName": " Ana ", "orgs": [{"sourcedId": " sch1 "}],
     "agents": [{"sourcedId": "g1"}, {"sourcedId": "g1"}], "grades": [" 09 ", "", 10, None, True]},
    {"sourcedId": "s1", "roles": [{"roleType": "primary", "role": "teacher", "org": {"sourcedId": "sch2"}}],
     "givenName": "Ana", "orgs": [{"sourcedId": "sch1"}], "primaryOrg": {"sourcedId": "sch1"}},
    {"sourcedId": "s1", "role": "student", "familyName": "B", "orgs": [{"sourcedId": 7}], "agents": [" g1 "],
     "enabledUser": 0, "metadata": {"ic": {"legacysourceId": " 123 "}}, "phone": "  ", "sms": 5551234},
    {"sourcedId": "s1", "role": "student", "familyName": "B", "orgs": {"sourcedId": "sch1"}, "grades": "09,10",
     "dateLastModified": "2025-09-14T00:20:58.000-7", "metadata": []},
    {"sourcedId": "s1", "role": "student", "familyName": "B", "dateLastModified": "0001-01-01T00:00:00+14:00"},
    {"sourcedId": "s1", "role": "student", "familyName": "B", "orgs": [{"sourcedId": "   "}], "agents": [{}]},
])
def test_tricky_values_read_as_the_helpers_read_them(raw):
    assert outcome(normalise_user, raw) == outcome(field_by_field, raw)


def test_a_utc_date_comes_back_in_utc_whatever_its_spelling():
    for text in ("2025-09-14T00:20:58Z", "2025-09-14 00:20:58", "2025-09-14T02:20:58+02:00", "2025-09-13T17:20:58-7"):
        parsed = parse_datetime(text)
        assert parsed == datetime(2025, 9, 14, 0, 20, 58, tzinfo=timezone.utc)
        assert parsed.tzinfo is timezone.utc and parsed.utcoffset() == timedelta(0)
