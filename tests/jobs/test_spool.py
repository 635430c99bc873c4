"""The spool's payloads: every school must get back exactly the record the night's read normalised, whatever is in
its values (a school's own read would have seen it as sent)."""
from datetime import datetime, timezone

import pytest

from connectors.people import DateCheck, Normalised, school_page
from connectors.records import normalise_user
from jobs.spool import pack_record, school_records, unpack_record

USER = {"sourcedId": "s-1", "role": "student", "givenName": "Ana", "familyName": "Ruiz", "middleName": "",
        "email": "ana@example.org", "username": "aruiz", "identifier": "1001", "grades": ["09", "10"],
        "phone": "", "status": "active", "enabledUser": "true",
        "orgs": [{"sourcedId": "sch-1"}, {"sourcedId": "sch-2"}],
        "agents": [{"sourcedId": "g-1"}], "dateLastModified": "2026-11-30T04:05:06.789Z",
        "metadata": {"ic.legacysourceId": "1234"}}


@pytest.mark.parametrize("changes", [
    {},
    {"givenName": "Ana\x1fMaría", "familyName": "Ruiz\x1eSoto"},  # the compact form's separators in a value
    {"familyName": "Ruiz\x00"},                                    # a NUL, which PostgreSQL text cannot hold
    {"dateLastModified": 20261130},                                # a date that is not text (reported as unreadable)
    {"dateLastModified": None, "grades": [], "agents": [], "orgs": []},
    {"enabledUser": "false", "status": "tobedeleted", "metadata": {}},
])
def test_a_spooled_person_comes_back_as_the_read_normalised_them(changes):
    raw = dict(USER, **changes)
    person = normalise_user(raw)
    back = unpack_record(pack_record(raw, person))
    assert isinstance(back, Normalised)
    assert back.person == person
    assert back.person.legacy_id == person.legacy_id  # a Campus move re-keys people in a night as in their own sync
    given = raw.get("dateLastModified")
    assert back.date_given == given or (given in (None, "") and back.date_given in (None, ""))


@pytest.mark.parametrize("given", [
    "2026-11-30T04:05:06.789Z", "2026-11-30T04:05:06Z", "2026-11-30T04:05:06.789123Z", "2026-11-30T04:05:06+00:00",
    "2026-11-30T04:05:06.789z", " 2026-11-30T04:05:06Z ", "2026-11-30 04:05:06", "2026-11-30", "2026-11-30T04:05:06-7",
    "2026-11-30T09:35:06+05:30", "2026-11-30T04:05:06.000-00:00", "20261130T040506Z", "0001-01-01T00:00:00Z"])
def test_a_spooled_date_comes_back_in_the_same_zone_to_the_microsecond(given):
    """The payload keeps the SIS's own text for the date when it reads back the same (no isoformat per record)."""
    raw = dict(USER, dateLastModified=given)
    person = normalise_user(raw)
    back = unpack_record(pack_record(raw, person))
    assert repr(back.person) == repr(person)  # repr, not ==: a datetime in another zone would compare equal
    assert back.date_given == given


def test_an_unreadable_record_comes_back_as_it_was_sent():
    raw = {"sourcedId": "x-9", "role": "wizard", "givenName": "Merlin\x1f"}
    assert unpack_record(pack_record(raw, None)) == raw
    assert unpack_record(pack_record(["not", "a", "record"], None)) == ["not", "a", "record"]


SCHOOL_ROWS = [dict(USER), dict(USER, sourcedId="s-2", orgs=[{"sourcedId": "SCH-1"}]),       # org in another case
               dict(USER, sourcedId="s-3", orgs=[{"sourcedId": "sch-9"}]),                    # another school's
               dict(USER, sourcedId="s-4", role="teacher"),                                   # a role not read
               dict(USER, sourcedId="g-1", role="guardian", orgs=[]),                          # parents: no orgs
               dict(USER, sourcedId="s-5", dateLastModified="2031-01-01T00:00:00Z"),          # far future
               dict(USER, sourcedId="s-6", dateLastModified=20261130),                        # not text (J)
               dict(USER, sourcedId="s-7", dateLastModified="someday"),                       # unreadable
               dict(USER, sourcedId="s-8", dateLastModified=None, orgs=[]),
               dict(USER, sourcedId="s-9", givenName="Ana\x1fMaría"),                         # separator (J)
               dict(USER, sourcedId="s-1"),                                                   # sent twice
               {"sourcedId": "x-1", "role": "wizard", "orgs": [{"sourcedId": "sch-1"}]}]       # unreadable (R)


@pytest.mark.parametrize("school_id", ["sch-1", "SCH-1", " sch-1"])
def test_a_schools_read_back_keeps_what_school_page_keeps(school_id):
    payloads = []
    for raw in SCHOOL_ROWS:
        try:
            payloads.append(pack_record(raw, normalise_user(raw)))
        except Exception:  # noqa: BLE001 - a record normalise_user refuses is spooled raw
            payloads.append(pack_record(raw, None))
    roles, started = frozenset({"student", "parent"}), datetime(2026, 12, 1, tzinfo=timezone.utc)
    seen, dates = set(), DateCheck(started)
    expected = school_page([unpack_record(p) for p in payloads], roles, school_id, scoped=False, seen=seen,
                           dates=dates)
    seen_fast, dates_fast = set(), DateCheck(started)
    assert school_records(payloads, roles, school_id, seen_fast, dates_fast) == expected
    assert (seen_fast, dates_fast.count, dates_fast.example) == (seen, dates.count, dates.example)
    kept = [getattr(item, "source_id", None) for item in expected]  # a School ID with a space matches no org
    assert kept[:3] == (["s-1", "s-2", "g-1"] if school_id.strip() == school_id else ["g-1"])
