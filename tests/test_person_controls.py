"""Per-person controls in People Manager, and how the next sync respects them (sandbox over real HTTP)."""
import pytest

from portal.extensions import db
from portal.models import AuditEvent, Person
from tests.conftest import csrf_token
from tests.factories import make_owner, make_person, make_school
from tests.sync_support import connect, directory, expected_people, issues, running_sandbox, sync


@pytest.fixture
def sandbox():
    with running_sandbox(seed=21) as box:
        yield box


@pytest.fixture
def synced(app, client, auth, sandbox):
    school = make_school(slug="controls")
    owner = make_owner(school)
    connect(school, sandbox, auto_update=True, archive=True, archive_threshold_percent=100)
    assert sync(school).status == "succeeded"
    auth.login(owner.email)
    student = next(p for p in expected_people(sandbox).values() if p.role == "student")
    return school, owner, directory(school)[student.source_id]


def act(client, person, action, htmx=True):
    token = csrf_token(client, "/schools/controls/people")
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post(f"/schools/controls/people/{person.id}/{action}", data={"csrf_token": token}, headers=headers)


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
