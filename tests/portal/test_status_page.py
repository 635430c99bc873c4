"""The Automatic Rostering overview: every school of the district, its schedule and last result."""
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from tests.factories import (make_district, make_district_manager, make_owner, make_person, make_run, make_school,
                             make_source, map_school)
from tests.support import scheduled_school

NY = ZoneInfo("America/New_York")


@pytest.fixture
def district(app):
    return make_district(name="Hudson Valley", timezone="America/New_York")


def _row(page: str, school) -> str:
    start = page.index(f">{school.name}</a>")
    return page[start:page.index("</tr>", start)]


def test_the_district_manager_sees_every_school_with_schedule_and_last_result(client, auth, district):
    nightly = scheduled_school(district, sync_time="02:15")
    today = datetime.now(NY).date()
    make_run(nightly, trigger="nightly", status="succeeded", local_date=today.isoformat(),
             finished_at=datetime.now(timezone.utc))
    switched_off = scheduled_school(district, automatic=False)
    make_run(switched_off, trigger="manual", status="failed", finished_at=datetime.now(timezone.utc))
    unconnected = make_school(district)
    manager = make_district_manager(district)

    auth.login(manager.email)
    page = client.get("/district/rostering", follow_redirects=True).get_data(as_text=True)

    tomorrow = today + timedelta(days=1)
    on = _row(page, nightly)
    assert ">On</span> nightly at 2:15 AM" in on and f"{tomorrow:%b} {tomorrow.day}, {tomorrow.year}, 2:15 AM E" in on
    assert "Succeeded" in on and "nightly" in on
    off = _row(page, switched_off)
    assert ">Off</span>" in off and "No nightly run scheduled" in off and "Failed" in off
    assert "Not connected" in _row(page, unconnected) and "No syncs yet" in _row(page, unconnected)
    assert "America/New_York" in page


def test_a_school_due_now_says_so(client, auth, district):
    school = scheduled_school(district, sync_time="00:00")  # passed today, and no run yet tonight
    auth.login(make_district_manager(district).email)
    page = client.get(f"/districts/{district.id}/rostering").get_data(as_text=True)
    assert "Due now" in _row(page, school)


def test_a_mapped_school_shows_its_sources_time_and_says_when_the_sources_nights_are_off(client, auth, district):
    """A mapped school syncs in its source's night: the overview named the school's own old time and said "On"
    beside "No nightly run scheduled" while the source's nightly sync was off."""
    nightly_source = make_source(district, sync_time="01:30", automatic=True)
    off_source = make_source(district, name="Hudson SIS (paused)", sync_time="03:45", automatic=False)
    on = map_school(make_school(district, name="Birch High"), nightly_source, "5", automatic=True, sync_time="02:00")
    off = map_school(make_school(district, name="Cedar Middle"), off_source, "6", automatic=True, sync_time="02:00")
    auth.login(make_district_manager(district).email)
    page = client.get(f"/districts/{district.id}/rostering").get_data(as_text=True)
    birch = _row(page, on.school)
    assert ">On</span> nightly at 1:30 AM" in birch and "2:00 AM" not in birch and "No nightly run" not in birch
    cedar = _row(page, off.school)
    assert ">On</span>" not in cedar and "No nightly run scheduled" in cedar
    assert "the district source Hudson SIS (paused)" in cedar and "does not sync every night" in cedar
    assert f'href="/districts/{district.id}/sources"' in cedar
    auth.logout()
    auth.login(make_owner(off.school).email)
    owned = _row(client.get(f"/districts/{district.id}/rostering").get_data(as_text=True), off.school)
    assert "your District Manager turns it on" in owned and "/sources" not in owned


def test_an_owner_sees_only_their_school(client, auth, district):
    mine, other = scheduled_school(district), scheduled_school(district)
    auth.login(make_owner(mine).email)
    page = client.get(f"/districts/{district.id}/rostering").get_data(as_text=True)
    assert mine.name in page and other.name not in page


def test_other_roles_get_403_and_another_district_404(client, auth, district):
    school = scheduled_school(district)
    auth.login(make_person(school, role="teacher", password="correct-horse-battery").email)
    assert client.get(f"/districts/{district.id}/rostering").status_code == 403
    assert client.get("/district/rostering").status_code == 403
    auth.logout()

    elsewhere = make_district_manager(make_district())
    auth.login(elsewhere.email)
    response = client.get(f"/districts/{district.id}/rostering")
    assert response.status_code == 404 and school.name not in response.get_data(as_text=True)


def test_signed_out_visitors_are_sent_to_sign_in(client, district):
    response = client.get(f"/districts/{district.id}/rostering")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
