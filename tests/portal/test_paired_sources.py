"""Issue #14 after the upgrade: two schools of a district with no source on their SIS, whose owners each save the same
SIS address, Client ID and secret, get one district source made from their connections (as migration d8e1f4a7b2c6
made them), each school keeping its School ID and sync settings. Neither owner sees the other school's name or any
secret; the District Manager sees both schools and the source. Real app, PostgreSQL, the sandbox over HTTP."""
import pytest

from jobs.connection import get_connection
from store.db import db
from store.models import AuditEvent, RosterConnection, Source
from store.secrets import decrypt_secret
from tests.factories import make_connection, make_district, make_district_manager, make_owner, make_school
from tests.support import aeries_form as values, district_log, post_connection as save, sandbox_fixture

aeries = sandbox_fixture("aeries", schools=3, students=20, seed=9, scope="module")
PAIRED = "Your district already syncs this SIS for another school, so Lincoln High now shares one district connection"


@pytest.fixture
def world(app, aeries):
    """Demo Unified with no source: Garcia's owner saved the sandbox on Garcia's own connection (nightly 03:15)."""
    district = make_district(name="Demo Unified")
    lincoln = make_school(district, name="Lincoln High", slug="lincoln")
    garcia = make_school(district, name="Garcia Middle", slug="garcia")
    return {"district": district, "school": lincoln, "garcia": garcia, "owner": make_owner(lincoln),
            "garcia_owner": make_owner(garcia), "dm": make_district_manager(district)}


def garcia_saved(world, aeries, secret=None, sis_index=1, school=None):
    """The other school's own connection, saved before (a different vendor menu, same address and Client ID)."""
    info = aeries.info
    return make_connection(school or world["garcia"], secret=secret or info["client_secret"], vendor="aeries",
                           url=info["base_url"] + "/", client_id=info["client_id"],
                           sis_school_id=info["school_ids"][sis_index], automatic=True, sync_time="03:15",
                           archive=True, sync_parents=True, archive_threshold_percent=3.0, no_update_roles="staff")


@pytest.mark.parametrize("htmx", [True, False])
def test_the_second_owner_saving_the_same_sis_and_secret_makes_one_district_source_for_both(
        client, auth, world, aeries, htmx):
    garcia = garcia_saved(world, aeries)
    auth.login(world["owner"].email)
    response = save(client, values(aeries, client_id=" " + aeries.info["client_id"]), htmx=htmx)
    assert response.status_code == (204 if htmx else 302), response.get_data(as_text=True)[:300]
    [source] = db.session.scalars(db.select(Source))
    # Named, timed and switched as the migration does: "District — Vendor", the earliest automatic school's time.
    assert (source.name, source.automatic, source.sync_time) == ("Demo Unified — Aeries", True, "03:15")
    assert decrypt_secret(source.secret_encrypted) == aeries.info["client_secret"]
    lincoln, garcia = get_connection(world["school"]), db.session.get(RosterConnection, garcia.id)
    assert (lincoln.source_id, lincoln.sis_school_id) == (source.id, aeries.info["school_ids"][0])
    assert (garcia.source_id, garcia.sis_school_id) == (source.id, aeries.info["school_ids"][1])
    for conn in (lincoln, garcia):
        assert (conn.secret_encrypted, conn.url, conn.client_id) == (None, "", "")  # the secret lives once
    assert (garcia.automatic, garcia.archive, garcia.sync_parents, garcia.archive_threshold_percent,
            garcia.no_update_roles) == (True, True, True, 3.0, "staff")  # Garcia's own settings, kept
    assert (lincoln.automatic, lincoln.archive) == (False, False)  # Lincoln's first save: nights opt in

    page = client.get("/schools/lincoln/rostering").get_data(as_text=True)
    assert PAIRED in page, page
    assert "Garcia" not in page and aeries.info["client_secret"] not in page and "stay yours" in page
    auth.logout()

    auth.login(world["garcia_owner"].email)  # the other owner reads it on the school's log, without Lincoln's name
    log = client.get("/schools/garcia/rostering/audit").get_data(as_text=True)
    assert "another school of your district saved a connection to this SIS with the same credentials" in log
    assert "Demo Unified — Aeries" in log and "Lincoln" not in log and aeries.info["client_secret"] not in log
    page = client.get("/schools/garcia/rostering").get_data(as_text=True)
    assert "syncs from the district source" in page and "Lincoln" not in page
    auth.logout()

    auth.login(world["dm"].email)  # the District Manager sees both schools and the new source
    [shared] = district_log(world["district"], "source_shared")
    assert "Lincoln High" in shared and "Garcia Middle" in shared and "Demo Unified — Aeries" in shared
    assert aeries.info["client_secret"] not in shared
    log = client.get(f"/districts/{world['district'].id}/sources/audit").get_data(as_text=True)
    assert "Schools now share a source" in log and "Garcia Middle as SIS school" in log
    listing = client.get(f"/districts/{world['district'].id}/sources").get_data(as_text=True)
    assert "Demo Unified — Aeries" in listing


def test_a_first_owner_saving_alone_keeps_its_own_connection(client, auth, world, aeries):
    auth.login(world["owner"].email)
    assert save(client, values(aeries)).status_code == 204
    assert get_connection(world["school"]).source_id is None
    assert db.session.scalar(db.select(db.func.count(Source.id))) == 0


def test_the_same_client_id_with_another_secret_merges_nothing_and_says_nothing_of_the_other_school(
        client, auth, world, aeries):
    garcia = garcia_saved(world, aeries, secret="garcias-old-secret")
    auth.login(world["owner"].email)
    response = save(client, values(aeries))
    assert response.status_code == 204, response.get_data(as_text=True)[:300]
    page = client.get("/schools/lincoln/rostering").get_data(as_text=True)
    assert "another school" not in page and "Garcia" not in page and "district connection" not in page
    assert db.session.scalar(db.select(db.func.count(Source.id))) == 0
    lincoln, garcia = get_connection(world["school"]), db.session.get(RosterConnection, garcia.id)
    assert lincoln.source_id is None and decrypt_secret(lincoln.secret_encrypted) == aeries.info["client_secret"]
    assert garcia.source_id is None and decrypt_secret(garcia.secret_encrypted) == "garcias-old-secret"
    assert district_log(world["district"], "source_shared") == []


def test_another_district_on_the_same_sis_and_secret_is_never_merged(client, auth, world, aeries):
    far = make_school(make_district(name="Far Away USD"), name="Far Away High", slug="far-away")
    garcia_saved(world, aeries, school=far)
    auth.login(world["owner"].email)
    assert save(client, values(aeries)).status_code == 204
    page = client.get("/schools/lincoln/rostering").get_data(as_text=True)
    assert "Far Away" not in page and "another school" not in page
    assert db.session.scalar(db.select(db.func.count(Source.id))) == 0
    assert get_connection(far).source_id is None and get_connection(world["school"]).source_id is None


def test_the_other_schools_school_id_is_refused_and_nothing_changes(client, auth, world, aeries):
    garcia = garcia_saved(world, aeries)
    auth.login(world["owner"].email)
    response = save(client, values(aeries, school_id=aeries.info["school_ids"][1]))  # Garcia's SIS school
    said = response.get_data(as_text=True)
    assert response.status_code == 422, said[:300]
    assert (f"Your district already syncs SIS school {aeries.info['school_ids'][1]} for another school" in said
            and "Check the School ID" in said)
    assert "Garcia" not in said and get_connection(world["school"]) is None
    assert db.session.scalar(db.select(db.func.count(Source.id))) == 0
    assert db.session.get(RosterConnection, garcia.id).source_id is None
    [refused] = district_log(world["district"], "source_join_refused")
    assert "Garcia Middle" in refused and "Lincoln High" in refused


def test_a_third_owner_then_joins_the_made_source(client, auth, world, aeries):
    garcia_saved(world, aeries)
    auth.login(world["owner"].email)
    assert save(client, values(aeries)).status_code == 204
    auth.logout()
    third = make_school(world["district"], name="Third Street School", slug="third")
    auth.login(make_owner(third).email)
    assert save(client, values(aeries, school_id=aeries.info["school_ids"][2]), slug="third").status_code == 204
    [source] = db.session.scalars(db.select(Source))
    assert get_connection(third).source_id == source.id
    assert db.session.scalar(db.select(db.func.count(AuditEvent.id)).where(
        AuditEvent.school_id == third.id, AuditEvent.action == "source_mapped")) == 1


def test_roster_configure_pairs_the_schools_too(runner, world, aeries):
    garcia_saved(world, aeries)
    info = aeries.info
    result = runner.invoke(args=["roster", "configure", "--school", "lincoln", "--vendor", "aeries", "--url",
                                 info["base_url"] + "/", "--client-id", info["client_id"], "--client-secret",
                                 info["client_secret"], "--sis-school-id", info["school_ids"][0], "--archive"])
    assert result.exit_code == 0, result.output
    assert PAIRED in result.output and "Garcia" not in result.output and info["client_secret"] not in result.output
    assert get_connection(world["school"]).source is not None and get_connection(world["school"]).archive is True
