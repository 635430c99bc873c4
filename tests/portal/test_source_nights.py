"""The district overview's District nights: each source's last night, and a manager's choice of night emails."""
from datetime import datetime, timedelta, timezone

import pytest

from jobs.digest import report_choice
from store.db import db
from store.models import SourceNight, SourceNightRun
from tests.factories import (make_district, make_district_manager, make_owner, make_run, make_school, make_source,
                             map_school)
from tests.support import csrf_token, text


@pytest.fixture
def district(app):
    place = make_district(timezone="America/New_York")
    source = make_source(place, name="Demo Unified — Aeries", automatic=True, sync_time="01:30")
    schools = [make_school(place), make_school(place)]
    for n, school in enumerate(schools):
        map_school(school, source, str(n + 1))
    start = datetime(2026, 3, 2, 6, 30, tzinfo=timezone.utc)
    night = SourceNight(source_id=source.id, local_date="2026-03-02", trigger="nightly", status="problems",
                        schools=2, records_read=36_012, requests=40, error_message="", digest_status="",
                        started_at=start, read_at=start + timedelta(seconds=40),
                        finished_at=start + timedelta(seconds=95))
    db.session.add(night)
    db.session.commit()
    for school, status in zip(schools, ("succeeded", "needs_review")):
        run = make_run(school, trigger="nightly", status=status, local_date="2026-03-02")
        db.session.add(SourceNightRun(night_id=night.id, run_id=run.id, school_id=school.id))
    db.session.commit()
    return place, source, schools


def test_the_overview_shows_each_sources_last_night_and_each_schools_result(client, auth, district):
    place, source, schools = district
    auth.login(make_district_manager(place).email)
    page = text(client.get(f"/districts/{place.id}/rostering"))
    section = page[page.index('id="source-nights"'):]
    assert "Demo Unified — Aeries" in section and "36,012" in section and "1 min 35 s" in section
    assert "Some schools need attention" in section
    for school, label in zip(schools, ("Succeeded", "Needs review")):
        assert f"/schools/{school.slug}/rostering/runs/" in section and school.name in section and label in section


def test_a_digest_that_could_not_be_sent_is_said_on_the_overview(client, auth, district):
    """The mail server was down: the manager who chose the digest got nothing and the page said nothing either."""
    place, source, (mine, _sibling) = district
    db.session.execute(db.update(SourceNight).values(digest_status="not_sent"))
    db.session.commit()
    auth.login(make_district_manager(place).email)
    section = text(client.get(f"/districts/{place.id}/rostering")).split('id="source-nights"')[1]
    assert "The digest email of this night was not sent. The portal could not reach its mail server" in section
    reason = "Could not connect to the mail server smtp.example.org:25 (connection refused); check MAIL_SERVER."
    db.session.execute(db.update(SourceNight).values(digest_error=reason))
    db.session.commit()
    assert f"The digest email of this night was not sent. {reason}" in text(
        client.get(f"/districts/{place.id}/rostering")).split('id="source-nights"')[1]
    db.session.execute(db.update(SourceNight).values(digest_status="sent"))
    db.session.commit()
    assert "was not sent" not in text(client.get(f"/districts/{place.id}/rostering")).split('id="source-nights"')[1]
    auth.logout()
    db.session.execute(db.update(SourceNight).values(digest_status="not_sent"))
    db.session.commit()
    auth.login(make_owner(mine).email)  # an owner does not get the digest: not theirs to hear about
    assert "was not sent" not in text(client.get(f"/districts/{place.id}/rostering"))


def test_a_source_without_a_night_yet_says_when_it_runs(client, auth, app):
    place = make_district()
    make_source(place, name="New SIS", automatic=True, sync_time="03:00")
    auth.login(make_district_manager(place).email)
    section = text(client.get(f"/districts/{place.id}/rostering")).split('id="source-nights"')[1]
    assert "No night yet: the first runs at 3:00 AM" in section


def test_a_manager_chooses_the_digest_and_the_page_keeps_it(client, auth, district):
    place, _source, _schools = district
    manager = make_district_manager(place)
    auth.login(manager.email)
    url = f"/districts/{place.id}/rostering/night-emails"
    token = csrf_token(client, f"/districts/{place.id}/rostering")
    answer = client.post(url, data={"night_emails": "digest", "csrf_token": token}, headers={"HX-Request": "true"})
    assert answer.status_code == 200 and "Saved." in text(answer)
    assert 'value="digest" checked' in text(client.get(f"/districts/{place.id}/rostering"))
    assert report_choice(manager) == "digest"
    refused = client.post(url, data={"night_emails": "weekly", "csrf_token": token}, headers={"HX-Request": "true"})
    assert refused.status_code == 422 and "Choose one digest for the district" in text(refused)
    assert report_choice(manager) == "digest"
    assert client.post(url, data={"night_emails": "each"}).status_code == 400  # no CSRF token
    plain = client.post(url, data={"night_emails": "", "csrf_token": token})  # the form without JavaScript
    assert plain.status_code == 302 and report_choice(manager) == ""


def test_only_a_manager_of_the_district_may_choose(client, auth, district):
    place, _source, schools = district
    url = f"/districts/{place.id}/rostering/night-emails"
    owner = make_owner(schools[0])
    auth.login(owner.email)
    token = csrf_token(client, "/")
    assert client.post(url, data={"night_emails": "digest", "csrf_token": token}).status_code == 403
    auth.logout()
    auth.login(make_district_manager(make_district()).email)
    token = csrf_token(client, "/")
    assert client.post(url, data={"night_emails": "digest", "csrf_token": token}).status_code == 404
    assert client.post("/districts/999999/rostering/night-emails",
                       data={"night_emails": "digest", "csrf_token": token}).status_code == 404
    anonymous = client.application.test_client().post(url, data={"night_emails": "digest"})
    assert anonymous.status_code in (302, 400)


def test_an_owner_sees_only_their_own_schools_run_and_source_in_the_district_nights(client, auth, district):
    """The overview shows an owner only their school; its District nights listed every school of the night with a
    link and a result, and every source of the district (an owner of another school gets 404 for those)."""
    place, source, (mine, sibling) = district
    make_source(place, name="Unused SIS")
    auth.login(make_owner(mine).email)
    page = text(client.get(f"/districts/{place.id}/rostering"))
    section = page[page.index('id="source-nights"'):]
    assert "Demo Unified — Aeries" in section and f"/schools/{mine.slug}/rostering/runs/" in section
    assert sibling.name not in section and f"/schools/{sibling.slug}/" not in section
    assert "Unused SIS" not in section
