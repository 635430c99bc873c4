"""The audit log page: the school's events newest first, never another school's, never a secret."""
from datetime import datetime, timedelta, timezone

from store.db import db
from store.models import AuditEvent
from portal.rostering import service
from jobs.connection import get_connection
from tests.factories import PASSWORD, make_audit_event, make_district, make_owner, make_person, make_school
from tests.support import csrf_token

SECRET = "S3cret-Value-123"


def _world():
    district = make_district(timezone="America/Chicago")
    school = make_school(district, slug="lincoln")
    other = make_school(district, slug="other")
    return school, make_owner(school), other, make_owner(other)


def test_owner_sees_their_school_events_newest_first_with_actor(client, auth, app):
    school, owner, other, other_owner = _world()
    base = datetime(2026, 3, 1, 18, 0, tzinfo=timezone.utc)
    make_audit_event(school, "sync_previewed", owner, "Run 1.", created_at=base)
    make_audit_event(school, "sync_approved", owner, "Run 2: approved.", created_at=base + timedelta(hours=1))
    make_audit_event(other, "sync_started", other_owner, "Run 99 elsewhere.", created_at=base)
    auth.login(owner.email)
    response = client.get("/schools/lincoln/rostering/audit")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert owner.full_name in html
    assert "Previewed a sync" in html and "Approved a sync" in html
    assert html.index("Approved a sync") < html.index("Previewed a sync")  # newest first
    assert "Mar 1, 2026, 12:00 PM" in html  # 18:00 UTC in Chicago
    assert "Run 99 elsewhere" not in html
    assert 'href="/schools/lincoln/rostering/audit"' in client.get("/schools/lincoln/rostering").get_data(
        as_text=True)


def test_unknown_actions_still_read_as_words(client, auth, app):
    school, owner, *_ = _world()
    make_audit_event(school, "person_exclude", None, "Ann.")
    make_audit_event(school, "something_new", None, "x.")
    auth.login(owner.email)
    html = client.get("/schools/lincoln/rostering/audit").get_data(as_text=True)
    assert "Excluded a person from sync" in html and "Something new" in html and "System" in html


def test_pages_of_fifty(client, auth, app):
    school, owner, *_ = _world()
    base = datetime(2026, 3, 1, tzinfo=timezone.utc)
    for i in range(60):
        make_audit_event(school, "connection_tested", owner, f"event-{i:03d}.", created_at=base + timedelta(minutes=i),
                         commit=False)
    db.session.commit()
    auth.login(owner.email)
    first = client.get("/schools/lincoln/rostering/audit").get_data(as_text=True)
    second = client.get("/schools/lincoln/rostering/audit?page=2").get_data(as_text=True)
    assert "event-059." in first and "event-010." in first and "event-009." not in first
    assert "event-009." in second and "event-000." in second and "event-059." not in second
    assert "Page 1 of 2" in first


def test_other_school_owner_gets_404_and_teacher_403(client, auth, app):
    school, owner, other, other_owner = _world()
    teacher = make_person(school, role="teacher", password=PASSWORD)
    auth.login(other_owner.email)
    assert client.get("/schools/lincoln/rostering/audit").status_code == 404
    auth.logout()
    auth.login(teacher.email)
    assert client.get("/schools/lincoln/rostering/audit").status_code == 403


def test_saving_a_connection_is_audited_without_the_secret(client, auth, app):
    school, owner, *_ = _world()
    auth.login(owner.email)
    data = {"vendor": "oneroster", "method": "oneroster", "url": "https://sis.example.org/ims/oneroster/v1p1",
            "token_url": "https://sis.example.org/oauth/token", "auth_mode": "oauth2",
            "client_id": "portal-client", "client_secret": SECRET, "school_id": "SCH-1",
            "csrf_token": csrf_token(client, "/schools/lincoln/rostering")}
    response = client.post("/schools/lincoln/rostering/connection", data=data)
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:2000]
    conn = get_connection(school)
    service.save_sync_settings(conn, actor=owner, sync_students=True, sync_teachers=True, sync_staff=True,
                               sync_admins=True, sync_parents=False, auto_update=True, archive=False,
                               automatic=False, sync_time="02:00", archive_threshold_percent=10.0)
    html = client.get("/schools/lincoln/rostering/audit").get_data(as_text=True)
    assert "Changed settings" in html and "portal-client" in html and owner.full_name in html
    assert SECRET not in html
    events = db.session.scalars(db.select(AuditEvent)).all()
    assert events and all(SECRET not in e.detail for e in events)
