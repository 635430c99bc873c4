"""Seasonal pause: nightly runs skip with a recorded reason inside a pause; manual runs are warned."""
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from jobs.schedule import dispatch_nightly
from store.db import db
from store.models import AuditEvent, BlackoutPeriod
from store.vocabulary import date_text
from portal.rostering.blackouts import add_blackout
from tests.factories import make_owner
from tests.support import csrf_token, nightly_runs, scheduled_school

LA = ZoneInfo("America/Los_Angeles")


def test_a_paused_night_records_one_skip_and_the_next_night_runs(app):
    school = scheduled_school(sync_time="02:00")
    add_blackout(school, "2027-06-08", "2027-06-10", "Year-end rollover", None)

    night = datetime(2027, 6, 10, 3, 0, tzinfo=LA)
    assert dispatch_nightly(night) == []
    assert dispatch_nightly(night + timedelta(minutes=5)) == []  # a second tick adds nothing
    runs = nightly_runs(school)
    assert [(r.status, r.local_date) for r in runs] == [("skipped", "2027-06-10")]
    assert "Seasonal pause from Jun 8, 2027 to Jun 10, 2027 (Year-end rollover)" in runs[0].error_message

    assert len(dispatch_nightly(datetime(2027, 6, 11, 3, 0, tzinfo=LA))) == 1
    assert [r.status for r in nightly_runs(school)] == ["skipped", "queued"]


def _rostering(client, slug):
    return client.get(f"/schools/{slug}/rostering")


def test_owner_adds_and_removes_a_pause_and_bad_dates_are_explained(app, client, auth):
    school = scheduled_school()
    owner = make_owner(school)
    auth.login(owner.email)
    url = f"/schools/{school.slug}/rostering/pauses"
    token = csrf_token(client, f"/schools/{school.slug}/rostering")

    bad = client.post(url, data={"starts_on": "2027-06-10", "ends_on": "2027-06-01", "csrf_token": token})
    assert bad.status_code == 422
    assert "The last day must be on or after the first day." in bad.get_data(as_text=True)
    junk = client.post(url, data={"starts_on": "<script>", "ends_on": "", "csrf_token": token})
    assert junk.status_code == 422 and "<script>" not in junk.get_data(as_text=True).split("pause-form")[1][:2000]

    response = client.post(url, data={"starts_on": "2027-06-08", "ends_on": "2027-08-20", "note": "Summer",
                                      "csrf_token": token}, follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "Nightly syncs are paused from Jun 8, 2027 to Aug 20, 2027." in page and "Summer" in page
    period = db.session.scalar(db.select(BlackoutPeriod))
    assert db.session.scalar(db.select(AuditEvent).filter_by(action="blackout_added")).actor_id == owner.id

    removed = client.post(f"{url}/{period.id}/delete", data={"csrf_token": token}, follow_redirects=True)
    assert "The pause was removed" in removed.get_data(as_text=True)
    assert db.session.scalar(db.select(BlackoutPeriod)) is None


def test_manual_sync_is_warned_about_a_pause_covering_today(app, client, auth):
    school = scheduled_school()
    auth.login(make_owner(school).email)
    today = datetime.now(LA).date()
    add_blackout(school, str(today - timedelta(days=1)), str(today + timedelta(days=3)), "Rollover", None)
    page = _rostering(client, school.slug).get_data(as_text=True)
    assert f"Nightly syncs are paused until {date_text(today + timedelta(days=3))} (Rollover)" in page


def test_another_schools_pause_cannot_be_removed(app, client, auth):
    school, other = scheduled_school(), scheduled_school()
    period = add_blackout(other, "2027-01-01", "2027-01-02", "", None)
    auth.login(make_owner(school).email)
    token = csrf_token(client, f"/schools/{school.slug}/rostering")
    response = client.post(f"/schools/{school.slug}/rostering/pauses/{period.id}/delete",
                           data={"csrf_token": token}, follow_redirects=True)
    assert "That pause no longer exists." in response.get_data(as_text=True)
    assert db.session.get(BlackoutPeriod, period.id) is not None
