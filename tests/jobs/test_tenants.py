"""jobs.tenants: the one rule for "the same SIS with the same credentials" (the district's sources refuse a twin by
it, an owner's save shares by it), and a school that joined its district's source by saving syncs from it."""
import pytest

from connectors.profiles import PROFILES
from jobs.connection import get_connection, settings_for
from jobs.tenants import settings_tenant, tenant_of, tenant_source
from portal.rostering import service
from store.db import db
from store.models import RosterConnection, Source
from tests.factories import make_district, make_school, make_source
from tests.support import SETTINGS, expected_people, people, sandbox_fixture, sandbox_source, sandbox_values, sync

sandbox = sandbox_fixture(schools=2, students=30, seed=12, scope="module")
URL = "https://sis.example.org/aeries/"


def aeries(url=URL, client_id="c", secret="s3cret", **more):
    return PROFILES["aeries"].normalise({"url": url, "client_id": client_id, "client_secret": secret,
                                         "school_id": "5", **more})


def test_case_and_trailing_slashes_do_not_make_another_tenant_but_a_client_id_does():
    assert settings_tenant(aeries()) == tenant_of("HTTPS://SIS.example.org/aeries//", " c ")
    assert settings_tenant(aeries()) != settings_tenant(aeries(client_id="d"))
    assert settings_tenant(aeries()) != settings_tenant(aeries(url="https://sis.example.org/other/"))


def test_the_same_address_under_the_other_provider_menu_is_the_same_tenant():
    other = PROFILES["oneroster"].normalise({"url": "https://sis.example.org/aeries", "client_id": "c",
                                             "client_secret": "s3cret", "school_id": "5", "auth_mode": "oauth2",
                                             "token_url": "https://sis.example.org/aeries/token"})
    assert settings_tenant(other) == settings_tenant(aeries())


def test_only_the_districts_own_api_sources_match_and_the_secret_is_told_apart(app):
    district, elsewhere = make_district(), make_district()
    make_source(elsewhere, secret="s3cret")  # the same URL and Client ID in another district: never this one's
    make_source(district, secret="x", method="csv", url=URL)  # a CSV source reads no SIS address
    assert tenant_source(district.id, aeries()) is None
    old = make_source(district, secret="an-old-one")
    match = tenant_source(district.id, aeries())
    assert (match.source.id, match.same_secret) == (old.id, False)
    current = make_source(district, secret="s3cret")  # e.g. two sources the migration kept apart by secret
    match = tenant_source(district.id, aeries())
    assert (match.source.id, match.same_secret) == (current.id, True)  # the one with the same secret first
    assert tenant_source(district.id, aeries(), exclude=current).source.id == old.id


@pytest.fixture
def joined(app, sandbox):
    """A school whose owner saved the district source's SIS and credentials, with its own sync settings."""
    district = make_district()
    source = sandbox_source(district, sandbox, automatic=True)
    school = make_school(district)
    conn = service.save_connection(school, "oneroster", sandbox_values(sandbox, 0), actor=None)
    service.save_sync_settings(conn, **{**SETTINGS, "sync_teachers": False})
    return source, school


def test_a_school_that_joined_by_saving_syncs_its_own_people_from_the_source(joined, sandbox):
    source, school = joined
    conn = get_connection(school)
    assert conn.source_id == source.id and conn.secret_encrypted is None
    assert settings_for(conn).client_secret == sandbox.info["client_secret"]  # the source's, stored once
    assert db.session.scalar(db.select(db.func.count(Source.id))) == 1
    run = sync(school)
    assert run.status == "succeeded", run.error_message
    assert {p[0] for p in people(school)} == set(expected_people(sandbox, 0, roles=("student", "staff",
                                                                                    "school_admin")))


def test_two_saves_mapping_one_sis_school_at_once_map_it_once(app):
    """The second save waits for the first's commit and is then refused, instead of both finding the SIS school free."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time; the row lock is PostgreSQL's")
    import threading

    from connectors.errors import InvalidSettings
    from jobs.tenants import attach, mapped_elsewhere
    from portal.sources.service import map_school
    from store.models import School
    district = make_district()
    source_id = make_source(district).id
    first_id, second_id = make_school(district, name="Lincoln High").id, make_school(district, name="Adams Middle").id
    first_holds, first_may_commit, outcome = threading.Event(), threading.Event(), {}

    def first_save():
        with app.app_context():
            source, school = db.session.get(Source, source_id), db.session.get(School, first_id)
            assert mapped_elsewhere(source, school, "994") is None
            attach(school, source, "994", automatic=True)
            first_holds.set()
            first_may_commit.wait(10)
            db.session.commit()

    def second_save():
        with app.app_context():
            try:
                map_school(db.session.get(Source, source_id), db.session.get(School, second_id), "994", None)
                outcome["error"] = None
            except InvalidSettings as exc:
                outcome["error"] = exc.errors["sis_school_id"]

    first = threading.Thread(target=first_save)
    first.start()
    assert first_holds.wait(10)
    second = threading.Thread(target=second_save)
    second.start()
    second.join(0.5)
    assert second.is_alive(), "the second save did not wait for the first"
    first_may_commit.set()
    first.join(10)
    second.join(10)
    assert outcome["error"] == "SIS school 994 is already mapped to Lincoln High; unmap it there first."
    db.session.expire_all()
    mapped = db.session.scalars(db.select(School.name).join(RosterConnection, RosterConnection.school_id == School.id)
                                .where(RosterConnection.source_id == source_id)).all()
    assert mapped == ["Lincoln High"]
