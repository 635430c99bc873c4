"""Formats vendors really send, served by the sandbox's vendor_formats switch and read over real HTTP."""
from datetime import datetime, timezone

import pytest

from connectors.client import OneRosterClient
from connectors.records import PersonRecord, RosterNotice, normalise_user, parse_datetime
from connectors.sandbox.formats import date_only
from tests.support import sandbox_fixture

from connector_helpers import EACH_VENDOR

ROLES = {"student", "teacher", "staff", "school_admin", "parent"}
UTC = timezone.utc


box = sandbox_fixture(configs=EACH_VENDOR, schools=2, students=60, seed=12)


def read(box, roles=ROLES):
    settings = box.settings()
    with OneRosterClient(settings, page_size=20) as client:
        return [i for page in client.iter_roster(settings.school_id, roles) for i in page]


def midnight(moment):
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def test_vendor_formats_read_exactly_like_the_clean_records(box):
    box.set_faults(vendor_formats=True)
    items = read(box)
    got = {p.source_id: p for p in items if isinstance(p, PersonRecord)}
    truth = {p.source_id: p for p in box.people(parents="all")}
    assert set(got) == set(truth) and len(got) > 50
    assert not [i for i in items if not isinstance(i, PersonRecord)]  # no problems, no date warnings
    for sid, want in truth.items():
        if date_only(sid):
            want = want._replace(date_last_modified=midnight(want.date_last_modified))
        have = got[sid]._replace(sis_role=want.sis_role)  # "Student" / "STUDENT" as sent
        assert have == want, sid
        assert got[sid].sis_role.lower() == want.sis_role.lower()


def test_unreadable_dates_are_synced_dated_at_the_start_and_reported_once(box):
    box.set_faults(unreadable_dates=3)
    before = datetime.now(UTC)
    items = read(box, roles={"student"})
    after = datetime.now(UTC)
    odd = set(box.set_faults()["records"]["unreadable_dates"])
    people = {p.source_id: p for p in items if isinstance(p, PersonRecord)}
    mine = odd & set(people)
    assert mine, "the sandbox picks students across schools; some are in this one"
    assert all(before <= people[sid].date_last_modified <= after for sid in mine)
    assert all(people[sid].date_last_modified < before for sid in set(people) - odd)
    notices = [i for i in items if isinstance(i, RosterNotice)]
    assert [n.kind for n in notices] == ["unreadable_date"]
    assert notices[0].message.startswith(f"{len(mine)} record{'s' if len(mine) != 1 else ''} in ")
    assert "'09/21/2017' on " in notices[0].message and "Ask the SIS vendor to send ISO 8601 dates." in \
        notices[0].message


@pytest.mark.parametrize("text, expected", [
    ("2017-09-21 07:11:54", datetime(2017, 9, 21, 7, 11, 54, tzinfo=UTC)),
    ("2017-09-21", datetime(2017, 9, 21, tzinfo=UTC)),
    ("2017-09-20T00:53:10.000-7", datetime(2017, 9, 20, 7, 53, 10, tzinfo=UTC)),
    ("2017-09-20T00:53:10+5:30", datetime(2017, 9, 19, 19, 23, 10, tzinfo=UTC)),
    ("2017-09-20T00:53:10Z", datetime(2017, 9, 20, 0, 53, 10, tzinfo=UTC)),
    ("2017-09-20T00:53:10+00:00", datetime(2017, 9, 20, 0, 53, 10, tzinfo=UTC)),
    ("09/21/2017", None), ("", None), (None, None),
])
def test_dates_vendors_send(text, expected):
    assert parse_datetime(text) == expected


@pytest.mark.parametrize("value, enabled", [(True, True), ("True", True), ("TRUE", True), ("1", True), ("true", True),
                                            (None, True), (False, False), ("False", False), ("0", False)])
def test_enabled_user_in_any_spelling(value, enabled):
    raw = {"sourcedId": "u1", "role": "STUDENT", "givenName": "A", "familyName": None, "enabledUser": value,
           "email": None, "orgs": None, "agents": None, "grades": None, "metadata": {"x": {"y": 1}}}
    person = normalise_user(raw)
    assert (person.enabled, person.role, person.status, person.family_name, person.email) == (
        enabled, "student", "active", "", "")
