"""Responses with personal data are never stored by a browser or proxy; static files keep caching (finding 7)."""
import pytest

from store.db import db
from store.models import SyncIssue, SyncRun
from tests.support import csrf_token
from tests.factories import make_owner, make_person, make_school

HX = {"HX-Request": "true"}


@pytest.fixture
def school(app, auth):
    school = make_school(slug="lincoln")
    make_person(school, role="student", email="ada.student@lincoln.org")
    auth.login(make_owner(school).email)
    return school


def _run_with_an_issue(school) -> SyncRun:
    run = SyncRun(school_id=school.id, trigger="manual", status="succeeded")
    db.session.add(run)
    db.session.flush()
    db.session.add(SyncIssue(run_id=run.id, source_id="s-1", kind="bad", message="ada.student@lincoln.org twice"))
    db.session.commit()
    return run


def test_the_issues_csv_is_no_store(client, school):
    run = _run_with_an_issue(school)
    response = client.get(f"/schools/lincoln/rostering/runs/{run.id}/issues.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "ada.student@lincoln.org" in response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("path, headers", [
    ("/schools/lincoln/people", {}),
    ("/schools/lincoln/people?page=1", {**HX, "HX-Target": "people-table"}),  # the table partial
    ("/schools/lincoln/rostering", {}),
    ("/schools/lincoln/rostering/vendor-fields?vendor=aeries", HX),
])
def test_pages_and_partials_of_a_signed_in_user_are_no_store(client, school, path, headers):
    response = client.get(path, headers=headers)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"


def test_the_run_progress_partial_and_a_redirect_are_no_store(client, school):
    run = _run_with_an_issue(school)
    progress = client.get(f"/schools/lincoln/rostering/runs/{run.id}/progress", headers=HX)
    assert progress.status_code == 200 and progress.headers["Cache-Control"] == "no-store"
    redirect = client.get("/")  # an owner is sent on to the school's page
    assert redirect.status_code == 302 and redirect.headers["Cache-Control"] == "no-store"


def test_signed_out_pages_and_errors_are_no_store_but_static_files_keep_caching(client, app):
    assert client.get("/login").headers["Cache-Control"] == "no-store"
    assert client.get("/no-such-page").headers["Cache-Control"] == "no-store"
    static = client.get("/static/portal.css")
    assert static.status_code == 200 and "no-store" not in static.headers.get("Cache-Control", "")


def test_sign_out_tells_the_browser_to_drop_the_sites_storage(client, school):
    response = client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    assert response.headers["Clear-Site-Data"] == '"storage"'
    assert response.headers["Cache-Control"] == "no-store"


def test_every_page_turns_off_the_htmx_history_cache(client, school):
    html = client.get("/schools/lincoln/people").get_data(as_text=True)
    assert '"historyCacheSize": 0' in html and '<body hx-history="false"' in html
