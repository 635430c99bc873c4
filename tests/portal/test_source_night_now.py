"""Run tonight's sync now, from a source's page: a District Manager queues the source's night on the worker through
the dispatcher's start_night; one night per source at a time (409); only that district's managers (403/404)."""
import html
from datetime import date

import pytest
from redis.exceptions import RedisError
from rq import SimpleWorker

from jobs.district_night import READ_JOB, night_runs, start_night
from store.db import db
from store.models import AuditEvent, SourceNight, SyncRun
from tests.factories import make_district, make_district_manager, make_owner, make_school, map_school
from tests.support import SETTINGS, csrf_token, sandbox_fixture, sandbox_source, text

HX = {"HX-Request": "true"}


def words(response) -> str:
    """The response as a reader sees it (entities such as &#39; decoded)."""
    return html.unescape(text(response))

sandbox = sandbox_fixture(schools=3, students=40, seed=5, scope="module")


@pytest.fixture
def world(app, auth, sandbox):
    """Two schools of a district mapped to its source on the sandbox; its District Manager signed in."""
    district = make_district(name="Demo Unified", timezone="UTC")
    source = sandbox_source(district, sandbox, name="Demo Unified — OneRoster", automatic=True, sync_time="02:00")
    schools = [make_school(district, name=name) for name in ("Garcia Middle", "OBrien Elementary")]
    for index, school in enumerate(schools):
        map_school(school, source, sandbox.info["school_ids"][index], **dict(SETTINGS, automatic=True))
    dm = make_district_manager(district)
    auth.login(dm.email)
    return {"district": district, "source": source, "schools": schools, "dm": dm,
            "url": f"/districts/{district.id}/sources/{source.id}/night",
            "start": f"/districts/{district.id}/sources/{source.id}/night/start",
            "page": f"/districts/{district.id}/sources/{source.id}"}


def press(client, world, htmx=True):
    token = csrf_token(client, world["page"])
    return client.post(world["start"], data={"csrf_token": token}, headers=HX if htmx else {})


def nights():
    return db.session.scalars(db.select(SourceNight).order_by(SourceNight.id)).all()


def test_the_button_queues_the_night_on_the_worker_and_audits_each_school(app, client, world):
    page = words(client.get(world["page"]))
    assert "Run tonight's sync now" in page and "No night yet: the first runs at 2:00 AM" in page

    answer = press(client, world)
    assert answer.status_code == 202
    assert "Tonight's sync of 2 schools is queued." in words(answer)
    assert "Waiting for a worker" in words(answer) and 'hx-trigger="every 2s"' in words(answer)
    assert "Run tonight's sync now" not in words(answer)  # no second press while it is open
    [night] = nights()
    assert (night.trigger, night.local_date, night.status, night.schools) == ("manual", None, "queued", 2)
    assert [job.func_name for job in app.sync_queue.jobs] == [READ_JOB]  # one read for both schools
    runs = night_runs(night.id)
    assert [(run.school_id, run.trigger, run.status) for run in runs] == \
        [(school.id, "manual", "queued") for school in world["schools"]]
    audits = db.session.execute(db.select(AuditEvent.school_id, AuditEvent.actor_id, AuditEvent.action)
                                .order_by(AuditEvent.school_id)).all()
    assert audits == [(school.id, world["dm"].id, "sync_started") for school in world["schools"]]

    SimpleWorker([app.sync_queue], connection=app.redis).work(burst=True)
    db.session.expire_all()
    assert db.session.get(SourceNight, night.id).status == "succeeded", night.error_message
    state = words(client.get(world["url"]))
    assert "Every school synced" in state and 'hx-trigger' not in state  # final: the polling stops
    for school, run in zip(world["schools"], runs):
        assert f'/schools/{school.slug}/rostering/runs/{run.id}"' in state and "Succeeded" in state
    assert db.session.get(SyncRun, runs[0].id).created > 0
    assert "Run tonight's sync now" in state  # and it can be run again


def test_a_second_press_while_the_night_is_open_is_409_and_queues_nothing(app, client, world):
    assert press(client, world).status_code == 202
    again = press(client, world)
    assert again.status_code == 409
    assert "A night of this source is already queued" in words(again) and "wait for it to end" in words(again)
    assert len(nights()) == 1 and len(app.sync_queue.jobs) == 1
    assert db.session.scalar(db.select(db.func.count()).select_from(SyncRun)) == 2

    without_js = press(client, world, htmx=False)  # the whole page, with the same words
    assert without_js.status_code == 302
    assert "A night of this source is already queued" in words(client.get(without_js.headers["Location"]))
    assert len(nights()) == 1


def test_a_night_run_now_does_not_take_tonights_scheduled_night(app, client, world):
    """uq_source_night_local_date holds nightly nights only (a manual night has no local date)."""
    assert press(client, world).status_code == 202
    SimpleWorker([app.sync_queue], connection=app.redis).work(burst=True)
    tonight = start_night(world["source"], trigger="nightly", local_date=date.today())
    assert tonight is not None and tonight.schools == 2
    assert start_night(world["source"], trigger="nightly", local_date=date.today()) is None  # still once a night


def test_owners_get_403_and_another_districts_manager_404_and_nothing_is_queued(app, client, auth, world):
    auth.logout()
    auth.login(make_owner(world["schools"][0]).email)
    assert press(client, world).status_code == 403
    auth.logout()
    auth.login(make_district_manager(make_district()).email)
    assert press(client, world).status_code == 404
    assert client.get(world["url"]).status_code == 404
    assert nights() == [] and app.sync_queue.jobs == []


def test_without_a_csrf_token_nothing_is_queued(app, client, world):
    client.get(world["page"])
    assert client.post(world["start"], data={}, headers=HX).status_code == 400
    assert nights() == [] and app.sync_queue.jobs == []


def test_a_queue_that_is_down_says_so_and_leaves_no_night_behind(app, client, world, monkeypatch):
    token = csrf_token(client, world["page"])

    def down():
        raise RedisError("connection refused")
    monkeypatch.setattr(app.redis, "ping", down)
    answer = client.post(world["start"], data={"csrf_token": token}, headers=HX)
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "60"
    assert "job queue (Redis) is not answering. Nothing was started." in words(answer)
    assert nights() == [] and db.session.scalar(db.select(db.func.count()).select_from(SyncRun)) == 0


def test_a_queue_that_fails_at_the_enqueue_ends_the_night_so_it_blocks_nothing(app, client, world, monkeypatch):
    token = csrf_token(client, world["page"])

    def down(*args, **kwargs):
        raise RedisError("connection reset")
    monkeypatch.setattr(app.sync_queue, "enqueue", down)
    assert client.post(world["start"], data={"csrf_token": token}, headers=HX).status_code == 503
    db.session.expire_all()
    [night] = nights()
    assert night.status == "failed" and night.is_final and "could not be queued" in night.error_message
    assert {run.status for run in night_runs(night.id)} == {"failed"}
    monkeypatch.undo()
    assert press(client, world).status_code == 202  # the next press is not refused


def test_a_source_with_no_mapped_school_says_to_map_schools_first(app, client, world, sandbox):
    empty = sandbox_source(world["district"], sandbox, name="Unused SIS")
    url = f"/districts/{world['district'].id}/sources/{empty.id}/night"
    answer = client.post(f"{url}/start", data={"csrf_token": csrf_token(client, world["page"])}, headers=HX)
    assert answer.status_code == 202
    assert "No school is mapped to this source yet, so nothing will sync: map schools first." in words(answer)
    SimpleWorker([app.sync_queue], connection=app.redis).work(burst=True)
    db.session.expire_all()
    assert [night.status for night in nights()] == ["skipped"]  # it ends, so it never blocks the next press
    assert "Run tonight's sync now" in words(client.get(url))
    # once the press's notice has gone, the night itself still says why it was skipped (it was a bare "Skipped")
    assert "none is mapped to this source" in words(client.get(f"/districts/{world['district'].id}/sources/{empty.id}"))
