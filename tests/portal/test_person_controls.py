"""Per-person controls in People Manager, and how the next sync respects them (sandbox over real HTTP)."""
import pytest

from store.db import db
from store.models import AuditEvent, Person, RosterConnection
from tests.factories import PASSWORD, make_connection, make_owner, make_person, make_school
from tests.support import connect, csrf_token, directory, expected_people, issues, sandbox_fixture, sync

sandbox = sandbox_fixture(seed=21)


@pytest.fixture
def synced(app, client, auth, sandbox):
    school = make_school(slug="controls")
    owner = make_owner(school)
    connect(school, sandbox, auto_update=True, archive=True, archive_threshold_percent=100)
    assert sync(school).status == "succeeded"
    auth.login(owner.email)
    student = next(p for p in expected_people(sandbox).values() if p.role == "student")
    return school, owner, directory(school)[student.source_id]


def act(client, person, action, htmx=True, confirmed=True):
    token = csrf_token(client, "/schools/controls/people")
    headers = {"HX-Request": "true"} if htmx else {}
    data = {"csrf_token": token, **({"confirmed": "yes"} if confirmed else {})}
    return client.post(f"/schools/controls/people/{person.id}/{action}", data=data, headers=headers)


def test_excluded_person_keeps_hand_edits_and_is_never_archived(client, synced, sandbox):
    school, owner, person = synced
    response = act(client, person, "exclude")
    assert response.status_code == 200
    assert "excluded from SIS sync" in response.get_data(as_text=True)
    person = db.session.get(Person, person.id)
    person.given_name = "Fixed By Hand"
    db.session.commit()
    sandbox.rename(person.source_id, given_name="Changed In SIS")

    run = sync(school)
    assert run.status == "succeeded", run.error_message
    assert directory(school)[person.source_id].given_name == "Fixed By Hand"
    assert db.session.scalar(db.select(AuditEvent).filter_by(action="person_exclude")).actor_id == owner.id


def test_hand_archived_person_stays_archived_and_is_listed(client, synced):
    school, _, person = synced
    assert act(client, person, "archive", htmx=False).status_code == 302
    run = sync(school)
    assert run.status == "succeeded", run.error_message
    assert directory(school)[person.source_id].status == "archived"
    assert any(i.source_id == person.source_id and i.kind == "archived_here" for i in issues(run))

    assert act(client, person, "restore").status_code == 200
    assert db.session.get(Person, person.id).status == "active"


def test_owners_cannot_be_archived_here(client, synced):
    school, owner, _ = synced
    response = act(client, owner, "archive")
    assert response.status_code == 409
    assert "managed by the district" in response.get_data(as_text=True)
    assert db.session.get(Person, owner.id).status == "active"


def test_person_of_another_school_is_404_and_unknown_action_refused(client, synced):
    other = make_person(make_school(slug="elsewhere"))
    assert act(client, other, "exclude").status_code == 404
    school, _, person = synced
    assert act(client, person, "delete").status_code == 409


# Per-role sync rules (issue 8): which roles Auto update and Archive may change.

@pytest.fixture
def rules_school(app, client, auth):
    """A school with a saved connection (no sandbox needed: these rules are only saved here)."""
    school = make_school(slug="rules")
    owner = make_owner(school)
    make_connection(school)
    auth.login(owner.email)
    return school


def save_rules(client, data, htmx=True, slug="rules", token=True):
    data = dict(data)
    if token:
        data["csrf_token"] = csrf_token(client, f"/schools/{slug}/people")
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post(f"/schools/{slug}/people/sync-rules", data=data, headers=headers)


def connection(school):
    return db.session.scalar(db.select(RosterConnection).filter_by(school_id=school.id))


@pytest.mark.parametrize("role, shown", [("teacher", "Teachers"), ("student", "Students"), ("staff", "Staff"),
                                         ("school_admin", "School admins"), ("owner", None), ("", None)])
def test_role_filter_shows_that_roles_sync_rules(client, rules_school, role, shown):
    html = client.get("/schools/rules/people", query_string={"role": role}).get_data(as_text=True)
    if shown is None:
        assert "Sync rules for" not in html
        return
    assert f"Sync rules for {shown}" in html
    assert '<label for="rule-auto_update">Auto update changes them</label>' in html
    assert '<label for="rule-archive">Archive removes them</label>' in html
    assert html.count(" checked>") == 2


def test_filtering_by_role_with_htmx_swaps_the_rules_in_too(client, rules_school):
    response = client.get("/schools/rules/people?role=staff",
                          headers={"HX-Request": "true", "HX-Target": "people-table"})
    html = response.get_data(as_text=True)
    assert "<html" not in html and 'id="people-count"' in html
    assert '<div id="sync-rules" hx-swap-oob="true">' in html and "Sync rules for Staff" in html


def test_saving_role_rules_excludes_the_role_and_is_audited(client, rules_school):
    before = connection(rules_school).settings_changed_at
    response = save_rules(client, {"role": "teacher", "auto_update": "on"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html
    assert "Saved. Teachers are never archived by sync." in html
    conn = connection(rules_school)
    assert (conn.no_update_roles, conn.no_archive_roles) == ("", "teacher")
    assert conn.archive_excluded_roles == {"teacher"} and conn.settings_changed_at > before
    event = db.session.scalar(db.select(AuditEvent).filter_by(action="settings_changed"))
    assert event.detail == "Sync rules for Teachers: Auto update changes them, Archive never removes them."

    save_rules(client, {"role": "staff"})
    conn = connection(rules_school)
    assert (conn.no_update_roles, conn.no_archive_roles) == ("staff", "teacher,staff")
    summary = client.get("/schools/rules/rostering").get_data(as_text=True)
    assert "Teachers are never archived by sync" in summary and "Staff are never auto-updated or archived" in summary

    response = save_rules(client, {"role": "teacher", "auto_update": "on", "archive": "on"})
    assert "Saved. Auto update and Archive apply to Teachers." in response.get_data(as_text=True)
    assert connection(rules_school).no_archive_roles == "staff"


def test_unchanged_rules_do_not_force_a_full_sync(client, rules_school):
    before = connection(rules_school).settings_changed_at
    save_rules(client, {"role": "student", "auto_update": "on", "archive": "on"})
    assert connection(rules_school).settings_changed_at == before


def test_without_javascript_saving_rules_redirects_back_to_the_role(client, rules_school):
    response = save_rules(client, {"role": "school_admin", "archive": "on"}, htmx=False)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/schools/rules/people?role=school_admin#sync-rules")
    html = client.get("/schools/rules/people?role=school_admin").get_data(as_text=True)
    assert "School admins are never auto-updated by sync." in html
    assert connection(rules_school).no_update_roles == "school_admin"


@pytest.mark.parametrize("role", ["owner", "district_manager", "parent", "", "teacher,staff", "x" * 500])
@pytest.mark.parametrize("htmx", [True, False])
def test_unknown_role_is_422_and_changes_nothing(client, rules_school, role, htmx):
    response = save_rules(client, {"role": role}, htmx=htmx)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "pick one of those roles in the Role filter" in html
    assert ("<html" in html) is not htmx
    conn = connection(rules_school)
    assert (conn.no_update_roles, conn.no_archive_roles) == ("", "")
    assert db.session.scalar(db.select(AuditEvent)) is None


def test_without_a_connection_the_rules_point_to_the_rostering_page(client, auth):
    school = make_school(slug="fresh")
    auth.login(make_owner(school).email)
    html = client.get("/schools/fresh/people?role=teacher").get_data(as_text=True)
    assert "This school has no SIS connection yet" in html
    assert '<a href="/schools/fresh/rostering">Rostering page</a>' in html
    assert 'name="archive"' not in html
    response = save_rules(client, {"role": "teacher"}, slug="fresh")
    assert response.status_code == 409 and "no SIS connection yet" in response.get_data(as_text=True)


def test_role_rules_refuse_a_missing_csrf_token(client, rules_school):
    assert save_rules(client, {"role": "teacher"}, token=False).status_code == 400
    assert connection(rules_school).no_archive_roles == ""


def test_role_rules_check_role_and_school(client, auth, rules_school):
    other = make_school(slug="other-rules")
    make_connection(other)
    assert save_rules(client, {"role": "teacher"}, slug="other-rules").status_code == 404
    assert connection(other).no_archive_roles == ""
    auth.logout()
    auth.login(make_person(rules_school, role="teacher", password=PASSWORD).email)
    response = client.post("/schools/rules/people/sync-rules",
                           data={"role": "teacher", "csrf_token": csrf_token(client, "/login")})
    assert response.status_code == 403
    assert connection(rules_school).no_archive_roles == ""
