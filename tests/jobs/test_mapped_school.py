"""A school mapped to its district's source syncs, previews and tests from the source's SIS and credentials with
its own SIS school id and its own sync settings, exactly as a school connected alone would."""
import pytest
from cryptography.fernet import Fernet

from connectors.errors import InvalidSettings
from jobs.connection import NotConfigured, get_connection, load_settings, saved_values, settings_for
from jobs.outbound import outbound_policy
from portal.rostering import service
from store.db import db
from store.secrets import decrypt_secret, redactor_for, rotate_secrets
from tests.factories import make_district, make_school, map_school
from tests.support import SETTINGS, expected_people, people, sandbox_fixture, sandbox_source, sync

sandbox = sandbox_fixture(schools=2, students=40, seed=11, scope="module")


@pytest.fixture
def mapped(app, sandbox):
    """Two schools of one district on one source, each with its own SIS school and sync settings."""
    district = make_district()
    source = sandbox_source(district, sandbox)
    first, second = make_school(district), make_school(district)
    map_school(first, source, sandbox.info["school_ids"][0], **SETTINGS)
    map_school(second, source, sandbox.info["school_ids"][1], **{**SETTINGS, "sync_teachers": False})
    return source, first, second


def test_mapped_schools_resolve_to_the_source_with_their_own_school_id(mapped, sandbox):
    source, first, second = mapped
    a, b = settings_for(get_connection(first)), settings_for(get_connection(second))
    assert (a.base_url, a.client_id, a.client_secret) == (sandbox.info["base_url"], sandbox.info["client_id"],
                                                          sandbox.info["client_secret"])
    assert (a.school_id, b.school_id) == tuple(sandbox.info["school_ids"][:2])
    assert saved_values(get_connection(first))["school_id"] == sandbox.info["school_ids"][0]
    assert saved_values(get_connection(first))["client_secret"] == ""  # never the secret
    assert get_connection(first).has_secret and get_connection(first).secret_encrypted is None


def test_each_mapped_school_syncs_its_own_people_with_its_own_settings(mapped, sandbox):
    _source, first, second = mapped
    run = sync(first)
    assert run.status == "succeeded", run.error_message
    assert {p[0] for p in people(first)} == set(expected_people(sandbox, 0))
    run = sync(second)
    assert run.status == "succeeded", run.error_message
    no_teachers = expected_people(sandbox, 1, roles=("student", "staff", "school_admin"))
    assert {p[0] for p in people(second)} == set(no_teachers)  # its own toggle: teachers off


def test_a_preview_of_a_mapped_school_changes_nothing(mapped, sandbox):
    _source, first, _second = mapped
    run = sync(first, trigger="preview")
    assert run.status == "succeeded" and run.created == len(expected_people(sandbox, 0))
    assert people(first) == []


def test_the_source_secret_is_masked_for_a_mapped_school(mapped, sandbox):
    _source, first, _second = mapped
    secret = sandbox.info["client_secret"]
    assert secret not in redactor_for(get_connection(first))(f"the SIS said {secret}")


def test_an_unreadable_source_secret_tells_the_owner_to_ask_the_district_manager(mapped):
    source, first, _second = mapped
    source.secret_encrypted = Fernet(Fernet.generate_key()).encrypt(b"x")
    db.session.commit()
    with pytest.raises(NotConfigured, match="District Manager"):
        load_settings(get_connection(first), outbound_policy())


def test_a_mapped_school_cannot_save_credentials_of_its_own(mapped, sandbox):
    source, first, _second = mapped
    values = {**dict(url="https://other.example.org/oneroster", token_url="https://other.example.org/token",
                     auth_mode="oauth2", client_id="x", client_secret="y", school_id="1")}
    with pytest.raises(InvalidSettings) as caught:
        service.save_connection(first, "oneroster", values, actor=None)
    assert source.name in caught.value.errors["vendor"] and "District Manager" in caught.value.errors["vendor"]
    assert get_connection(first).url == ""


def test_a_school_connected_alone_is_untouched_by_sources(app, sandbox):
    school = make_school()
    conn = service.save_connection(school, "oneroster", {
        **{k: v for k, v in sandbox.info.items() if k in ("token_url", "client_id", "client_secret")},
        "url": sandbox.info["base_url"], "auth_mode": "oauth2", "school_id": sandbox.info["school_ids"][0]}, None)
    assert conn.source_id is None and conn.credentials is conn
    assert settings_for(conn).client_secret == sandbox.info["client_secret"]


def test_rotating_the_keys_re_encrypts_source_secrets_too(mapped, sandbox):
    source, _first, _second = mapped
    before = bytes(source.secret_encrypted)
    assert rotate_secrets() == 1  # the mapped schools hold no secret of their own
    db.session.expire_all()
    assert bytes(source.secret_encrypted) != before
    assert decrypt_secret(source.secret_encrypted) == sandbox.info["client_secret"]
