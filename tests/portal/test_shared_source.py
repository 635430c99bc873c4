"""Issue #14: an owner who saves the district's own SIS and credentials on the Rostering page (or with `roster
configure`) shares the district's source, keeps the school's sync settings, never sees the source's secret or other
schools, and the District Manager sees it in the district audit log. Real app, PostgreSQL, the sandbox over HTTP."""
import pytest

from jobs.connection import get_connection
from portal.sources import service as sources
from store.db import db
from store.models import AuditEvent, RosterConnection, Source
from store.secrets import decrypt_secret
from tests.factories import make_connection, make_district, make_district_manager, make_owner, make_school, map_school
from tests.support import aeries_form as values, district_log, post_connection as save, sandbox_fixture

aeries = sandbox_fixture("aeries", schools=3, students=20, seed=8, scope="module")


@pytest.fixture
def world(app, aeries):
    """Lincoln's owner in a district whose manager connected the sandbox as "Demo Unified SIS", Garcia mapped."""
    district = make_district(name="Demo Unified")
    lincoln, garcia = make_school(district, name="Lincoln High", slug="lincoln"), make_school(district, name="Garcia Middle")
    dm = make_district_manager(district)
    source = sources.save_source(district, "aeries", values(aeries), dm, name="Demo Unified SIS", automatic=True,
                                 sync_time="03:15")
    sources.map_school(source, garcia, aeries.info["school_ids"][1], None)
    return {"district": district, "school": lincoln, "garcia": garcia, "source": source, "owner": make_owner(lincoln),
            "dm": dm}


@pytest.mark.parametrize("htmx", [True, False])
def test_saving_the_districts_sis_and_credentials_shares_its_source_and_keeps_the_schools_settings(
        client, auth, world, aeries, htmx):
    own = make_connection(world["school"], secret=aeries.info["client_secret"], url=values(aeries)["url"],
                          client_id=aeries.info["client_id"], sis_school_id=aeries.info["school_ids"][0],
                          sync_parents=True, auto_update=True, archive=True, archive_threshold_percent=4.0,
                          no_update_roles="teacher", sync_staff=False)
    auth.login(world["owner"].email)
    response = save(client, values(aeries), htmx=htmx)
    assert response.status_code == (204 if htmx else 302), response.get_data(as_text=True)[:300]
    conn = db.session.get(RosterConnection, own.id)
    db.session.refresh(conn)
    assert (conn.source_id, conn.sis_school_id) == (world["source"].id, aeries.info["school_ids"][0])
    assert (conn.secret_encrypted, conn.url, conn.client_id) == (None, "", "")  # the secret lives once, on the source
    assert (conn.sync_parents, conn.auto_update, conn.archive, conn.archive_threshold_percent, conn.no_update_roles,
            conn.sync_staff) == (True, True, True, 4.0, "teacher", False)
    assert db.session.scalar(db.select(db.func.count(Source.id))) == 1
    page = client.get("/schools/lincoln/rostering").get_data(as_text=True)
    assert 'Lincoln High now uses the district&#39;s connection &#34;Demo Unified SIS&#34;' in page, page
    assert "stay yours" in page and "3:15" in page.replace("03:15", "3:15")
    assert aeries.info["client_secret"] not in page and "Garcia" not in page
    [joined] = district_log(world["district"], "source_joined")
    assert "Lincoln High" in joined and "Demo Unified SIS" in joined and aeries.info["client_secret"] not in joined
    assert "own saved credentials were removed" in joined
    assert db.session.scalar(db.select(AuditEvent.detail).where(
        AuditEvent.school_id == world["school"].id, AuditEvent.action == "source_mapped"))
    auth.logout()
    auth.login(world["dm"].email)  # the District Manager reads it on the district's log
    log = client.get(f"/districts/{world['district'].id}/sources/audit").get_data(as_text=True)
    assert "A school joined a source" in log and "Lincoln High saved a connection" in log


def test_a_first_save_shares_the_source_without_an_untested_warning(client, auth, world, aeries):
    auth.login(world["owner"].email)
    assert save(client, values(aeries)).status_code == 204
    conn = get_connection(world["school"])
    assert conn.source_id == world["source"].id and conn.automatic is False  # nights stay the owner's choice


@pytest.mark.parametrize("typed", ["an-old-secret", ""])
def test_the_districts_client_id_with_another_secret_is_refused_saying_whom_to_ask(client, auth, world, aeries, typed):
    """A wrong or old secret is never shared on a guess, and the message says nothing about the secret."""
    make_connection(world["school"], secret="an-old-secret", url=values(aeries)["url"],
                    client_id=aeries.info["client_id"], sis_school_id=aeries.info["school_ids"][0])
    auth.login(world["owner"].email)
    response = save(client, values(aeries, client_secret=typed))  # "": the school's own saved (old) secret
    said = response.get_data(as_text=True)
    assert response.status_code == 422, said[:300]
    assert "This Client ID is your district&#39;s SIS connection" in said and "Ask your District Manager" in said
    assert "Demo Unified SIS" not in said and "Garcia" not in said and aeries.info["client_secret"] not in said
    conn = get_connection(world["school"])
    assert conn.source_id is None and decrypt_secret(conn.secret_encrypted) == "an-old-secret"  # nothing saved
    [refused] = district_log(world["district"], "source_join_refused")
    assert "Lincoln High" in refused and "another secret" in refused


def test_a_sis_school_already_mapped_to_another_school_is_refused_without_naming_it(client, auth, world, aeries):
    auth.login(world["owner"].email)
    response = save(client, values(aeries, school_id=aeries.info["school_ids"][1]))  # Garcia's
    said = response.get_data(as_text=True)
    assert response.status_code == 422, said[:300]
    assert f"already syncs SIS school {aeries.info['school_ids'][1]} for another school" in said
    assert "Garcia" not in said and get_connection(world["school"]) is None
    [refused] = district_log(world["district"], "source_join_refused")
    assert "Garcia Middle" in refused  # the District Manager may see which school has it


@pytest.mark.parametrize("typed", [{}, {"client_id": "another-client"}])
def test_a_school_already_mapped_is_told_so_not_asked_to_save_anyway(client, auth, world, aeries, typed):
    map_school(world["school"], world["source"], aeries.info["school_ids"][2])
    auth.login(world["owner"].email)
    response = save(client, values(aeries, **typed))
    said = response.get_data(as_text=True)
    assert response.status_code == 422 and "Save anyway" not in said, said[:300]
    assert "is connected through the district&#39;s source" in said and "District Manager" in said
    assert get_connection(world["school"]).sis_school_id == aeries.info["school_ids"][2]


def test_a_school_with_its_own_connection_elsewhere_shares_the_source_without_save_anyway(client, auth, world,
                                                                                           aeries):
    make_connection(world["school"], url="https://old-sis.example.org/aeries/", client_id="old")
    auth.login(world["owner"].email)
    response = save(client, values(aeries))
    assert response.status_code == 204, response.get_data(as_text=True)[:300]
    assert get_connection(world["school"]).source_id == world["source"].id


def test_an_owner_of_another_district_on_the_same_url_and_client_id_is_not_joined(client, auth, world, aeries):
    elsewhere = make_school(make_district(name="Far Away USD"), name="Far Away High", slug="far-away")
    auth.login(make_owner(elsewhere).email)
    response = save(client, values(aeries), slug="far-away")
    assert response.status_code == 204
    page = client.get("/schools/far-away/rostering").get_data(as_text=True)
    assert "Demo Unified" not in page and "Garcia" not in page
    conn = get_connection(elsewhere)
    assert conn.source_id is None and decrypt_secret(conn.secret_encrypted) == aeries.info["client_secret"]
    assert [district_log(world["district"], action) for action in ("source_joined", "source_join_refused")] == [[], []]


def test_roster_configure_shares_the_source_too(runner, world, aeries):
    info = aeries.info
    result = runner.invoke(args=["roster", "configure", "--school", "lincoln", "--vendor", "aeries", "--url",
                                 info["base_url"] + "/", "--client-id", info["client_id"], "--client-secret",
                                 info["client_secret"], "--sis-school-id", info["school_ids"][0], "--archive"])
    assert result.exit_code == 0, result.output
    assert 'Lincoln High now uses the district\'s connection "Demo Unified SIS"' in result.output
    assert info["client_secret"] not in result.output and "Garcia" not in result.output
    conn = get_connection(world["school"])
    assert conn.source_id == world["source"].id and conn.archive is True


def test_a_district_source_for_a_tenant_saved_under_another_vendor_menu_is_refused(world, aeries):
    """The rule is the address and Client ID, however the SIS is picked: a second source would read it twice."""
    info = aeries.info
    with pytest.raises(sources.InvalidSettings) as caught:
        sources.save_source(world["district"], "oneroster", {
            "url": info["base_url"].upper().replace("HTTP://", "http://") + "/", "token_url": info["base_url"] + "/token",
            "auth_mode": "oauth2", "client_id": info["client_id"], "client_secret": "another"}, None, name="Twin")
    assert "Demo Unified SIS" in caught.value.errors["url"]
