"""The roster service: secrets at rest, saving and validating settings, and queuing syncs on RQ."""
import pytest
from cryptography.fernet import Fernet
from rq import SimpleWorker

from connectors.errors import InvalidSettings
from connectors.settings import DEFAULT_SCOPE
from jobs.connection import NotConfigured, get_connection, saved_values, settings_for
from jobs.runs import approve_run, discard_run, start_sync
from portal.rostering import service
from store.db import db
from store.models import AuditEvent, Person, RosterConnection, SyncRun
from store.secrets import decrypt_secret, rotate_secrets
from tests.factories import make_owner, make_run, make_school
from tests.support import SETTINGS, connect, sandbox_fixture, sandbox_values

sandbox = sandbox_fixture(schools=1, students=40, seed=3, scope="module")


def _raw_secret(conn) -> bytes:
    db.session.expire_all()
    return bytes(db.session.scalar(db.select(RosterConnection.secret_encrypted).filter_by(id=conn.id)))


def test_the_secret_is_encrypted_at_rest_and_never_in_the_audit_log(app, sandbox):
    school = make_school()
    conn = connect(school, sandbox)
    secret = sandbox.info["client_secret"].encode()
    assert secret not in _raw_secret(conn)
    assert decrypt_secret(_raw_secret(conn)) == sandbox.info["client_secret"]
    details = " ".join(e.detail for e in db.session.scalars(db.select(AuditEvent)))
    assert sandbox.info["client_secret"] not in details and "settings_changed" in {
        e.action for e in db.session.scalars(db.select(AuditEvent))}
    assert "client_secret" not in repr(conn) and saved_values(conn)["client_secret"] == ""


def test_a_blank_secret_on_a_later_save_keeps_the_stored_one(app, sandbox):
    school = make_school()
    connect(school, sandbox)
    values = {**sandbox_values(sandbox), "client_secret": ""}
    conn = service.save_connection(school, "oneroster", values, actor=None)
    assert settings_for(conn).client_secret == sandbox.info["client_secret"]


def test_the_other_forms_scope_override_is_saved_and_a_blank_one_means_the_default(app, sandbox):
    school = make_school()
    conn = service.save_connection(school, "oneroster", {**sandbox_values(sandbox), "scope": "district.read"}, None)
    assert saved_values(conn)["scope"] == "district.read"
    assert settings_for(conn).scope == "district.read"
    conn = service.save_connection(school, "oneroster", {**sandbox_values(sandbox), "scope": ""}, None)
    assert conn.scope == "" and settings_for(conn).scope == DEFAULT_SCOPE


def test_rotate_secrets_re_encrypts_with_the_first_key(app, sandbox):
    school = make_school()
    conn = connect(school, sandbox)
    old_key = app.config["PORTAL_FERNET_KEYS"]
    new_key = Fernet.generate_key().decode()
    app.config["PORTAL_FERNET_KEYS"] = f"{new_key},{old_key}"
    assert rotate_secrets() == 1
    app.config["PORTAL_FERNET_KEYS"] = new_key  # the old key can now be dropped
    assert decrypt_secret(_raw_secret(conn)) == sandbox.info["client_secret"]


def test_rotate_secrets_command(app, runner, sandbox):
    connect(make_school(), sandbox)
    app.config["PORTAL_FERNET_KEYS"] = Fernet.generate_key().decode() + "," + app.config["PORTAL_FERNET_KEYS"]
    result = runner.invoke(args=["rotate-secrets"])
    assert result.exit_code == 0 and "Re-encrypted 1 secret" in result.output


def test_invalid_connection_values_name_each_field(app):
    school = make_school()
    with pytest.raises(InvalidSettings) as refused:
        service.save_connection(school, "aeries", {"url": "http://sis.example.org/", "client_id": "",
                                                   "client_secret": "x", "school_id": "abc"}, actor=None)
    assert set(refused.value.errors) == {"url", "client_id", "school_id"}
    assert get_connection(school) is None


@pytest.mark.parametrize("field,value", [("sync_time", "25:00"), ("sync_time", "2am"),
                                         ("archive_threshold_percent", 150), ("archive_threshold_percent", "x")])
def test_invalid_sync_settings_are_refused(app, sandbox, field, value):
    conn = connect(make_school(), sandbox)
    with pytest.raises(InvalidSettings) as refused:
        service.save_sync_settings(conn, **{**SETTINGS, field: value})
    assert list(refused.value.errors) == [field]


def test_changing_what_is_synced_forces_the_next_sync_to_be_full(app, sandbox):
    conn = connect(make_school(), sandbox)
    before = conn.settings_changed_at
    service.save_sync_settings(conn, **{**SETTINGS, "sync_time": "03:30"})
    assert conn.settings_changed_at == before
    service.save_sync_settings(conn, **{**SETTINGS, "sync_staff": False})
    assert conn.settings_changed_at > before


def test_start_sync_queues_a_job_that_a_worker_runs(app, sandbox):
    school = make_school()
    connect(school, sandbox)
    owner = make_owner(school)
    run = start_sync(school, actor=owner)
    assert (run.status, run.job_id) == ("queued", f"sync-school-{school.id}-run-{run.id}")
    SimpleWorker([app.sync_queue], connection=app.redis).work(burst=True)
    db.session.expire_all()
    run = db.session.get(SyncRun, run.id)
    assert run.status == "succeeded", run.error_message
    assert run.created == db.session.scalar(db.select(db.func.count(Person.id)).where(
        Person.school_id == school.id, Person.source_id.is_not(None)))


def test_start_sync_without_a_connection_says_what_to_do(app):
    with pytest.raises(NotConfigured, match="save one on the Rostering page"):
        start_sync(make_school())


def test_discarding_a_run_under_review_changes_nothing(app, sandbox):
    school = make_school()
    connect(school, sandbox)
    run = make_run(school, status="needs_review", would_archive=5)
    discard_run(run, make_owner(school))
    assert run.status == "skipped" and "Discarded" in run.error_message
    with pytest.raises(ValueError):
        approve_run(run, None)
