"""The spool's payloads: every school must get back exactly the record the night's read normalised, whatever is in
its values (a school's own read would have seen it as sent)."""
import pytest

from connectors.people import Normalised
from connectors.records import normalise_user
from jobs.spool import pack_record, unpack_record

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


def test_an_unreadable_record_comes_back_as_it_was_sent():
    raw = {"sourcedId": "x-9", "role": "wizard", "givenName": "Merlin\x1f"}
    assert unpack_record(pack_record(raw, None)) == raw
    assert unpack_record(pack_record(["not", "a", "record"], None)) == ["not", "a", "record"]
