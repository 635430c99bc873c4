"""Undo a sync from a run's page: preview (changes nothing), apply (POST + CSRF), the undo run, and refusals."""
import pytest

from store.db import db
from store.models import SyncRun
from tests.factories import make_owner, make_run, make_school
from tests.support import (change_sis_person, connect, csrf_token, directory, sandbox_fixture, snapshot, sync,
                           text)

pytestmark = pytest.mark.usefixtures("no_backoff")


box = sandbox_fixture(seed=43, students=60)


@pytest.fixture
def world(app, box, client, auth):
    school = make_school()
    owner = make_owner(school)
    connect(school, box, archive=True, auto_update=True)
    sync(school)
    students = sorted(sid for sid, p in directory(school).items() if p.source_id and p.role == "student")
    for sid in students[:3]:
        change_sis_person(box, sid, givenName="Typo")
    run = sync(school)
    assert run.updated == 3
    auth.login(owner.email)
    return {"school": school, "run": run, "renamed": students[:3], "base": f"/schools/{school.slug}/rostering"}


def _post(client, url, **data):
    return client.post(url, data={"csrf_token": csrf_token(client, url.rsplit("/", 2)[0]), **data})


def test_the_run_page_offers_undo_and_the_preview_changes_nothing(client, world):
    base, run = world["base"], world["run"]
    page = text(client.get(f"{base}/runs/{run.id}"))
    assert f'href="{base}/runs/{run.id}/undo">Undo this sync…</a>' in page
    before = snapshot(world["school"])
    preview = client.get(f"{base}/runs/{run.id}/undo")
    html = text(preview)
    assert preview.status_code == 200
    assert '<li data-count="reverts"><strong>3</strong> people whose changed details are put back</li>' in html
    assert '<li data-count="left"><strong>0</strong> changes left alone</li>' in html
    assert html.count("<td>First name</td><td>Typo</td>") == 3
    assert "makes these changes again unless the SIS is corrected first" in html
    assert snapshot(world["school"]) == before


def test_applying_the_undo_puts_names_back_and_shows_the_undo_run(client, world):
    base, run, school = world["base"], world["run"], world["school"]
    response = _post(client, f"{base}/runs/{run.id}/undo/apply")
    assert response.status_code == 302
    undo = db.session.scalar(db.select(SyncRun).where(SyncRun.trigger == "undo"))
    assert response.headers["Location"].endswith(f"{base}/runs/{undo.id}")
    db.session.expire_all()
    assert {directory(school)[sid].given_name for sid in world["renamed"]}.isdisjoint({"Typo"})
    page = text(client.get(response.headers["Location"]))
    assert f"Sync #{run.shown_number} undone: 3 people put back, 0 archived." in page
    assert f"This run undid <a href=\"{base}/runs/{run.id}\">sync #{run.shown_number}</a>" in page
    assert f"<h2 id=\"run-heading\">Undo #{undo.shown_number}</h2>" in page
    assert "Undo succeeded." in page
    assert "Read from the SIS" not in page  # it said "Read from the SIS 0 people": an undo reads no SIS
    original = text(client.get(f"{base}/runs/{run.id}"))
    assert "<dt>Read from the SIS</dt>" in original
    assert f"Undone by <a href=\"{base}/runs/{undo.id}\">run #{undo.shown_number}</a>" in original
    assert "Undo this sync…" not in original
    assert "Undid a sync" in text(client.get(f"{base}/audit"))
    history = text(client.get(f"{base}/runs"))
    assert "Undo of a sync" in history


def test_a_second_undo_is_refused_and_changes_nothing(client, world):
    base, run = world["base"], world["run"]
    assert _post(client, f"{base}/runs/{run.id}/undo/apply").status_code == 302
    after = snapshot(world["school"])
    again = _post(client, f"{base}/runs/{run.id}/undo/apply")
    assert again.status_code == 409
    assert "This sync was already undone by run #" in text(again)
    assert snapshot(world["school"]) == after
    assert client.get(f"{base}/runs/{run.id}/undo").status_code == 409


@pytest.mark.parametrize("trigger, status, reason", [
    ("preview", "succeeded", "A preview changes nothing, so there is nothing to undo."),
    ("manual", "needs_review", "Discard it on the Rostering page instead of undoing it."),
    ("manual", "failed", "This sync failed, and a failed sync changes nothing"),
])
def test_runs_that_changed_nothing_show_why_they_cannot_be_undone(client, world, trigger, status, reason):
    base = world["base"]
    run = make_run(world["school"], trigger=trigger, status=status)
    assert "Undo this sync…" not in text(client.get(f"{base}/runs/{run.id}"))
    for response in (client.get(f"{base}/runs/{run.id}/undo"), _post(client, f"{base}/runs/{run.id}/undo/apply")):
        assert response.status_code == 409 and reason in text(response)
        assert "Undo sync #" not in text(response).split("</h2>", 1)[1]  # no button


def test_undo_without_csrf_is_refused(client, world):
    before = snapshot(world["school"])
    response = client.post(f"{world['base']}/runs/{world['run'].id}/undo/apply")
    assert response.status_code == 400
    assert snapshot(world["school"]) == before


def test_an_undo_beyond_the_archive_threshold_needs_the_box_ticked(client, world):
    base, school = world["base"], world["school"]
    first = db.session.scalar(db.select(SyncRun).where(SyncRun.school_id == school.id).order_by(SyncRun.id))
    preview = text(client.get(f"{base}/runs/{first.id}/undo"))
    assert 'name="confirm_archive"' in preview and "more than the 10% archive threshold" in preview
    before = snapshot(school)
    refused = _post(client, f"{base}/runs/{first.id}/undo/apply")
    assert refused.status_code == 422 and "Tick the box to confirm, then undo again." in text(refused)
    assert snapshot(school) == before
    assert _post(client, f"{base}/runs/{first.id}/undo/apply", confirm_archive="on").status_code == 302
