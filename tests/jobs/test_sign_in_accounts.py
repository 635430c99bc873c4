"""Issue 12 finding 1: SIS data never links to or changes an account that can sign in (sandbox SIS over real
HTTP); People's "Link to SIS record" is the audited way to link one on purpose."""
import pytest

from portal.auth.reset import send_reset_email
from store.db import db
from portal.extensions import mail
from store.models import AuditEvent, Person
from tests.support import csrf_token
from tests.factories import PASSWORD, make_district_manager, make_owner, make_person, make_school
from tests.support import (add_sis_person, change_sis_person, changes, connect, directory, expected_people, issues,
                           running_sandbox, sync)

ATTACKER = "attacker@evil.example"
FIELDS = ("role", "given_name", "family_name", "email", "username", "sis_id", "phone", "status", "source_id")


@pytest.fixture
def sandbox():
    """Each test changes the SIS's data, so each gets its own."""
    with running_sandbox(seed=43, students=60) as box:
        yield box


@pytest.fixture
def school(app):
    return make_school()


def account(person: Person) -> tuple:
    db.session.refresh(person)
    return tuple(getattr(person, name) for name in FIELDS)


def aide_like(sandbox) -> str:
    """A staff record (an aide or proctor in the SIS) of the connected school, to copy a new record from."""
    return next(p.source_id for p in expected_people(sandbox).values() if p.role == "staff")


def plant_record(sandbox, email: str) -> str:
    """What the attacker does at the SIS: a new aide whose email is someone's sign-in address."""
    return add_sis_person(sandbox, aide_like(sandbox), email=email.upper(), givenName="Mallory",
                          familyName="Intruder", username="mallory", identifier="EVIL-1", phone="+1-555-000-6666")


def sign_in_issue(run, sid) -> str:
    [message] = [i.message for i in issues(run) if i.source_id == sid and i.kind == "sign_in_account"]
    return message


def people_with_email(school, email) -> list[Person]:
    return [p for p in directory(school).values() if p.email == email.lower()]


def link(client, school, person, source_id, htmx=True, **extra):
    headers = {"HX-Request": "true", "HX-Target": f"person-{person.id}"} if htmx else {}
    data = {"source_id": source_id, "csrf_token": csrf_token(client, f"/schools/{school.slug}/people"), **extra}
    return client.post(f"/schools/{school.slug}/people/{person.id}/sis-link", data=data, headers=headers)


# ---- the sync never links or changes a sign-in account ---------------------------------------

@pytest.mark.parametrize("kind", ["owner", "owner without a password yet", "teacher with a password"])
def test_an_sis_record_with_a_sign_in_email_is_neither_linked_nor_added(school, sandbox, kind):
    if kind == "owner":
        person = make_owner(school)
    elif kind == "teacher with a password":
        person = make_person(school, role="teacher", password=PASSWORD)
    else:
        person = make_person(school, role="owner")
    before = account(person)
    connect(school, sandbox, auto_update=True)
    planted = plant_record(sandbox, person.email)

    run = sync(school)
    assert run.status == "succeeded", run.error_message
    assert account(person) == before  # no source_id, name, username, SIS id or phone from the SIS
    assert run.linked == 0 and planted not in directory(school)
    assert [p.id for p in people_with_email(school, person.email)] == [person.id]  # no duplicate either
    message = sign_in_issue(run, planted)
    assert f"matches the sign-in account of {person.given_name} {person.family_name} ({person.email})" in message
    assert "link it by hand in People" in message and planted in message

    assert account(person) == before and sign_in_issue(sync(school), planted)  # every run says it again


def test_a_district_managers_email_in_the_sis_is_not_added_to_the_school(school, sandbox):
    manager = make_district_manager(school.district)
    before = account(manager)
    connect(school, sandbox, auto_update=True)
    planted = plant_record(sandbox, manager.email)

    run = sync(school)
    assert run.status == "succeeded", run.error_message
    assert account(manager) == before and planted not in directory(school)
    assert people_with_email(school, manager.email) == []
    assert "district manager" in sign_in_issue(run, planted)


@pytest.mark.parametrize("kind", ["owner of another school in the district",
                                  "teacher with a password at another school"])
def test_a_sign_in_email_from_another_school_of_the_district_is_neither_added_nor_linked(client, auth, school,
                                                                                      sandbox, kind):
    """Security re-test: school B's SIS carries the sign-in email of an account at another school of its district; B
    must not get a passwordless person with that email, nor a link, and B's owner cannot link the account by hand."""
    elsewhere = make_school(school.district, name="Alder Elementary")
    if kind.startswith("teacher"):
        person = make_person(elsewhere, role="teacher", password=PASSWORD)
    else:
        person = make_owner(elsewhere)
    before = account(person)
    connect(school, sandbox, auto_update=True)
    planted = add_sis_person(sandbox, aide_like(sandbox), email=f"  {person.email.upper()} ", givenName="Mallory",
                             familyName="Intruder", username="mallory", identifier="EVIL-1")

    run = sync(school)
    assert run.status == "succeeded", run.error_message
    assert account(person) == before and run.linked == 0 and planted not in directory(school)
    assert people_with_email(school, person.email) == []  # no passwordless copy of their address in this school
    assert db.session.scalar(db.select(db.func.count()).select_from(Person)
                             .where(db.func.lower(Person.email) == person.email.lower())) == 1
    message = sign_in_issue(run, planted)
    assert f"matches the sign-in account of {person.full_name} ({person.email}) at Alder Elementary;" in message
    assert "link it by hand" not in message and "its own email" in message  # nothing this school can link

    owner = make_owner(school)
    auth.login(owner.email)
    assert link(client, school, person, planted).status_code == 404  # Link to SIS record stays in its school
    assert account(person) == before and sign_in_issue(sync(school), planted)


def _account_in_another_district(kind):
    elsewhere = make_school(None, name="Birch Academy")  # a district of its own
    if kind == "manager":
        return make_district_manager(elsewhere.district)
    if kind == "teacher":
        return make_person(elsewhere, role="teacher", password=PASSWORD)
    return make_owner(elsewhere)


@pytest.mark.parametrize("kind", ["owner", "manager", "teacher"])
def test_a_sign_in_email_of_another_district_is_an_email_like_any_other(client, auth, school, sandbox, kind):
    """Another district's account must not show through this school's runs: an issue saying "the sign-in address of
    an account in another district" (or a skip with no reason) confirmed, from a guessed email, who signs in there.
    The SIS person is synced as anyone is, never linked to that account, which stays as it was."""
    person = _account_in_another_district(kind)
    before = account(person)
    connect(school, sandbox, auto_update=True)
    planted = add_sis_person(sandbox, aide_like(sandbox), email=person.email.upper(), givenName="Mallory",
                             familyName="Intruder", username="mallory", identifier="EVIL-1")

    run = sync(school)
    assert run.status == "succeeded", run.error_message
    synced = directory(school)[planted]
    assert (synced.email, synced.given_name, synced.role, synced.can_sign_in) == (person.email.lower(), "Mallory",
                                                                                 "staff", False)
    assert synced.id != person.id and run.linked == 0 and account(person) == before
    assert not [i for i in issues(run) if i.source_id == planted]
    assert not [i for i in issues(run) if person.email.lower() in i.message.lower()]

    change_sis_person(sandbox, aide_like(sandbox), email=person.email)  # a second SIS record takes it too
    again = sync(school)
    assert again.status == "succeeded" and account(person) == before
    assert not [i for i in issues(again) if "sign-in" in i.message or i.kind == "sign_in_account"]

    owner = make_owner(school)
    auth.login(owner.email)
    assert link(client, school, person, planted).status_code == 404  # Link to SIS record stays in its school
    assert account(person) == before


def test_an_sis_email_change_to_a_sign_in_address_elsewhere_is_not_applied(school, sandbox):
    """The same re-test by an update: a rostered aide of this school whose SIS email becomes another school's
    owner's address keeps their email (and the rest) until the SIS gives them their own."""
    owner = make_owner(make_school(school.district, name="Alder Elementary"))
    connect(school, sandbox, auto_update=True)
    assert sync(school).status == "succeeded"
    aide = aide_like(sandbox)
    before = directory(school)[aide].email
    change_sis_person(sandbox, aide, email=owner.email.upper(), givenName="Mallory")

    run = sync(school)
    assert run.status == "succeeded", run.error_message
    assert (directory(school)[aide].email, directory(school)[aide].given_name != "Mallory") == (before, True)
    [message] = [i.message for i in issues(run) if i.source_id == aide and i.kind == "sign_in_account"]
    assert f"matches the sign-in account of {owner.full_name} ({owner.email}) at Alder Elementary" in message


def test_an_sis_email_change_to_a_sign_in_address_of_another_district_is_applied_like_any(school, sandbox):
    """Refused, the update said (or showed by its absence) that the address signs in somewhere outside the district."""
    person = _account_in_another_district("owner")
    before = account(person)
    connect(school, sandbox, auto_update=True)
    assert sync(school).status == "succeeded"
    aide = aide_like(sandbox)
    change_sis_person(sandbox, aide, email=person.email.upper(), givenName="Mallory")

    run = sync(school)
    assert run.status == "succeeded" and run.updated == 1, run.error_message
    assert (directory(school)[aide].email, directory(school)[aide].given_name) == (person.email.lower(), "Mallory")
    assert not [i for i in issues(run) if i.source_id == aide] and account(person) == before


def test_a_rostered_person_who_can_sign_in_is_never_changed_restored_or_archived(school, sandbox):
    connect(school, sandbox, auto_update=True, archive=True, archive_threshold_percent=100)
    assert sync(school).status == "succeeded"
    teacher = next(p for p in directory(school).values() if p.role == "teacher")
    teacher.set_password(PASSWORD)  # given a sign-in after the first sync linked them
    db.session.commit()
    before = account(teacher)
    change_sis_person(sandbox, teacher.source_id, email=ATTACKER, givenName="Mallory", phone="+1-555-000-6666")

    run = sync(school)
    assert run.status == "succeeded", run.error_message
    assert account(teacher) == before
    assert teacher.id not in {c.person_id for c in changes(run)}

    change_sis_person(sandbox, teacher.source_id, status="tobedeleted")
    run = sync(school)
    assert run.status == "succeeded" and account(teacher) == before  # still active
    with sandbox.data.lock:
        del sandbox.data.users[teacher.source_id]
        sandbox.data.changed([teacher.source_id])
    assert sync(school).status == "succeeded" and account(teacher) == before


def test_people_who_cannot_sign_in_are_still_linked_and_updated(school, sandbox):
    teacher = next(p for p in expected_people(sandbox).values() if p.role == "teacher")
    hand = make_person(school, role="teacher", email=teacher.email.upper(), given_name="Made By Hand")
    connect(school, sandbox, auto_update=True)
    run = sync(school)
    assert run.linked == 1
    db.session.refresh(hand)
    assert (hand.source_id, hand.given_name) == (teacher.source_id, teacher.given_name)
    change_sis_person(sandbox, teacher.source_id, email="new.address@staff.sandbox.example.org")
    assert sync(school).updated == 1
    db.session.refresh(hand)
    assert hand.email == "new.address@staff.sandbox.example.org"


# ---- the whole attack, and the owner's way to link on purpose ---------------------------------

def test_the_takeover_chain_fails_and_the_owner_links_on_purpose(app, client, auth, school, sandbox):
    owner = make_owner(school)
    owner.given_name, owner.family_name, owner.phone = "Olive", "Owner", "+1-555-123-4567"
    db.session.commit()
    original = account(owner)
    connect(school, sandbox, auto_update=True)
    planted = plant_record(sandbox, owner.email)

    run = sync(school)  # 1. the link attempt
    assert account(owner) == original
    assert "matches the sign-in account of Olive Owner" in sign_in_issue(run, planted)

    auth.login(owner.email)  # 2. the owner decides it is them after all, and links it on purpose
    page = client.get(f"/schools/{school.slug}/people").get_data(as_text=True)
    assert f"Link to SIS record: {owner.full_name}" in page
    response = link(client, school, owner, planted)
    assert response.status_code == 200
    assert f"linked to SIS record {planted}" in response.get_data(as_text=True)
    assert account(owner) == original[:-1] + (planted,)  # only the link itself: nothing copied from the SIS
    [event] = db.session.scalars(db.select(AuditEvent).where(AuditEvent.action == "person_sis_link")).all()
    assert (event.actor_id, event.school_id) == (owner.id, school.id) and planted in event.detail

    change_sis_person(sandbox, planted, email=ATTACKER, givenName="Mallory")  # 3. the SIS changes the email
    run = sync(school)  # 4. the next sync
    assert run.status == "succeeded", run.error_message
    assert account(owner) == original[:-1] + (planted,)  # 5. the owner's sign-in email is unchanged
    assert not [i for i in issues(run) if i.source_id == planted]

    with mail.record_messages() as outbox:  # and a reset to the attacker's address reaches nobody
        send_reset_email(ATTACKER)
        send_reset_email(owner.email)
    assert [m.recipients for m in outbox] == [[owner.email]]


def test_link_refuses_bad_ids_with_a_clear_message(client, auth, school):
    owner = make_owner(school)
    auth.login(owner.email)
    for source_id, says in [("", "Enter the SIS record id"), ("  ", "Enter the SIS record id"),
                            ("x" * 256, "longer than 255"), ("a\x00b", "cannot contain control")]:
        response = link(client, school, owner, source_id)
        assert response.status_code == 422, source_id
        assert says in response.get_data(as_text=True)
    assert account(owner)[-1] is None
    assert db.session.scalar(db.select(db.func.count()).select_from(AuditEvent)) == 0


def test_link_refuses_a_taken_id_or_a_person_already_linked(client, auth, school):
    owner = make_owner(school)
    rostered = make_person(school, role="teacher", source_id="sis-teacher-1", given_name="Tess", family_name="Ng")
    auth.login(owner.email)
    response = link(client, school, owner, "sis-teacher-1")
    assert response.status_code == 409
    assert "already belongs to Tess Ng" in response.get_data(as_text=True)
    response = link(client, school, rostered, "sis-other")
    assert response.status_code == 409 and "already linked to SIS record sis-teacher-1" in response.get_data(
        as_text=True)
    db.session.refresh(rostered)
    assert (account(owner)[-1], rostered.source_id) == (None, "sis-teacher-1")


def test_link_without_javascript_redirects_with_the_message_or_shows_the_error(client, auth, school):
    owner = make_owner(school)
    auth.login(owner.email)
    response = link(client, school, owner, "", htmx=False)
    assert response.status_code == 422 and "Enter the SIS record id" in response.get_data(as_text=True)
    response = link(client, school, owner, "sis-owner-7", htmx=False)
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "linked to SIS record sis-owner-7" in page


def test_link_checks_school_role_and_csrf(client, auth, school):
    owner = make_owner(school)
    other_school = make_school(school.district)
    stranger = make_person(other_school, role="teacher")
    auth.login(owner.email)
    assert link(client, school, stranger, "sis-1").status_code == 404  # someone of another school
    response = client.post(f"/schools/{school.slug}/people/{owner.id}/sis-link", data={"source_id": "sis-1"})
    assert response.status_code == 400  # no CSRF token
    auth.logout()
    teacher = make_person(school, role="teacher", password=PASSWORD)
    auth.login(teacher.email)
    assert link(client, school, owner, "sis-1").status_code == 403
    assert account(owner)[-1] is None
