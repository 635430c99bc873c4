"""The district's Sources pages: a District Manager sets up a source with the school form's rules, tests it, sees
the SIS's schools beside the portal's with suggestions, maps, adds and unmaps schools; owners see it read-only."""
import re
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import pytest
from rq import SimpleWorker

from connectors.settings import ConnectionSettings
from jobs import source_checks
from jobs.connection import get_connection, settings_for
from jobs.schedule import next_run_at
from jobs.source_checks import listed_schools
from portal.sources import service
from portal.sources.matching import Candidate, suggest
from store.db import db
from store.models import AuditEvent, RosterBundle, School, Source, SourceNight, SourceNightRun
from store.secrets import decrypt_secret
from tests.factories import (PASSWORD, make_connection, make_district, make_district_manager, make_owner, make_person,
                             make_run, make_school, make_source, map_school)
from tests.support import BAD_VALUES, assert_served_signed_in, csrf_token, running_sandbox

HX = {"HX-Request": "true"}


@pytest.fixture(scope="module")
def aeries():
    with running_sandbox("aeries", schools=4, students=20, seed=3) as box:
        yield box


def form(sandbox, **overrides):
    info = sandbox.info
    return {"vendor": "aeries", "method": "oneroster", "url": info["base_url"] + "/", "client_id": info["client_id"],
            "client_secret": info["client_secret"], "sync_time": "02:30", "automatic": "on", **overrides}


@pytest.fixture
def world(app, client, auth):
    district = make_district(name="Demo Unified")
    dm = make_district_manager(district)
    lincoln = make_school(district, name="OBrien Elementary", slug="obrien")
    garcia = make_school(district, name="Garcia Middle", slug="garcia")
    other = make_district()
    auth.login(dm.email)
    return {"district": district, "dm": dm, "obrien": lincoln, "garcia": garcia, "other": other,
            "base": f"/districts/{district.id}/sources"}


def post(client, url, data, htmx=True, page=None):
    data = dict(data, csrf_token=csrf_token(client, page or "/login"))
    return client.post(url, data=data, headers=HX if htmx else {})


def test_a_district_manager_saves_a_source_and_the_secret_is_never_shown(client, world, aeries):
    response = post(client, world["base"], form(aeries, name=""), htmx=False)
    assert response.status_code == 302
    source = db.session.scalar(db.select(Source))
    assert source.name == "Demo Unified — Aeries" and source.district_id == world["district"].id
    assert (source.sync_time, source.automatic) == ("02:30", True)
    assert decrypt_secret(source.secret_encrypted) == aeries.info["client_secret"]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert aeries.info["client_secret"] not in page and "Saved" in page
    assert 'name="school_id"' not in page  # each mapped school brings its own School ID


@pytest.mark.parametrize("overrides, field, words", [
    ({"url": "http://sis.example.org/aeries/"}, "url", "https://"),
    ({"client_secret": ""}, "client_secret", "required"),
    ({"sync_time": "25:00"}, "sync_time", "HH:MM"),
    ({"name": "x" * 201}, "name", "at most 200"),
    ({"vendor": "nonsense"}, None, ""),  # an unknown vendor falls back to the default form, like the school page
])
def test_bad_fields_come_back_next_to_the_field_with_422(client, world, aeries, overrides, field, words):
    response = post(client, world["base"], form(aeries, **overrides))
    if field is None:
        assert response.status_code == 204  # saved as Aeries
        return
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'id="field-{field}-error"' in html and words in html
    assert aeries.info["client_secret"] not in html
    assert db.session.scalar(db.select(db.func.count(Source.id))) == 0


def test_a_blank_secret_keeps_the_saved_one_only_for_the_same_sis_and_client(client, world, aeries):
    source = service.save_source(world["district"], "aeries", form(aeries), None)
    url = f"{world['base']}/{source.id}"
    assert post(client, url, form(aeries, client_secret="", name=source.name)).status_code == 204
    moved = post(client, url, form(aeries, client_secret="", url="https://elsewhere.example.org/aeries/"))
    assert moved.status_code == 422 and "client_secret" in moved.get_data(as_text=True)
    db.session.expire_all()
    assert decrypt_secret(db.session.get(Source, source.id).secret_encrypted) == aeries.info["client_secret"]


def test_a_second_source_for_the_same_sis_and_client_is_refused_so_the_sis_is_read_once_a_night(client, world,
                                                                                                 aeries):
    """Two sources of one SIS tenant would each read the whole SIS every night, and let one SIS school be mapped to
    two portal schools (one per source): the second is refused with where to map instead."""
    first = service.save_source(world["district"], "aeries", form(aeries), None, name="Main SIS")
    for url in (aeries.info["base_url"] + "/", aeries.info["base_url"].upper().replace("HTTP://", "http://") + "//"):
        again = post(client, world["base"], form(aeries, name="Main SIS again", url=url))
        said = again.get_data(as_text=True)
        assert again.status_code == 422 and "Main SIS" in said and "map its schools there" in said, said
        assert db.session.scalar(db.select(db.func.count(Source.id))) == 1
    assert post(client, f"{world['base']}/{first.id}", form(aeries, client_secret="", name="Main SIS")).status_code == 204
    service.save_source(world["district"], "aeries", form(aeries, client_id="another-client"), None, name="Other")
    service.save_source(world["other"], "aeries", form(aeries), None, name="Main SIS")  # another district's own


def test_two_sources_of_a_district_cannot_share_a_name(world, aeries):
    service.save_source(world["district"], "aeries", form(aeries), None, name="Main SIS")
    with pytest.raises(service.InvalidSettings) as caught:
        service.save_source(world["district"], "aeries", form(aeries), None, name="Main  SIS")
    assert "already has a source" in caught.value.errors["name"]


def _run_test(app, client, world, source):
    queued = post(client, f"{world['base']}/{source.id}/test", {"vendor": "aeries", "url": source.url,
                                                                "client_id": source.client_id, "client_secret": ""})
    html = queued.get_data(as_text=True)
    assert queued.status_code == 202 and 'hx-trigger="every 1s"' in html, html[:400]
    poll = re.search(r'hx-get="([^"]+)"', html).group(1)
    SimpleWorker([app.check_queue], connection=app.redis).work(burst=True)
    return client.get(poll, headers=HX)


def test_the_test_lists_the_sis_schools_beside_the_portal_schools_with_suggestions(app, client, world, aeries):
    source = service.save_source(world["district"], "aeries", form(aeries), None)
    result = _run_test(app, client, world, source)
    html = result.get_data(as_text=True)
    assert result.status_code == 200 and "Connection works" in html, html[:2000]
    assert "hx-trigger" not in html.split('id="mapping-area"')[0]  # the final state stops polling
    for name, sis_id in (("OBrien Elementary", "994"), ("García Middle School", "5"), ("Müller High School", "1")):
        assert name in html and f'data-sis-id="{sis_id}"' in html
    row = html.split('data-sis-id="994"')[1].split("</tr>")[0]
    assert f'<option value="{world["obrien"].id}" selected>' in row and "same name" in row
    row = html.split('data-sis-id="5"')[1].split("</tr>")[0]
    assert f'<option value="{world["garcia"].id}" selected>' in row and "similar name" in row
    row = html.split('data-sis-id="1"')[1].split("</tr>")[0]
    assert "Add this school to the portal" in row and " selected>" not in row
    assert aeries.info["client_secret"] not in html
    db.session.expire_all()
    assert db.session.get(Source, source.id).last_test_result.startswith("Connection works")
    listed = [s["name"] for s in listed_schools(app.redis, source)]
    assert listed == ["García Middle School", "Müller High School", "OBrien Elementary", "Smith Elementary"]


def test_a_removed_sources_school_list_is_not_shown_for_a_new_source_with_its_id(app, client, world, aeries):
    """SQLite gives the next source the removed one's id, even in another district: the new source's page showed
    the old source's SIS schools (another district's), ready to map."""
    source = service.save_source(world["district"], "aeries", form(aeries), None)
    _run_test(app, client, world, source)
    assert listed_schools(app.redis, source)
    same_id = Source(id=source.id, district_id=make_district(name="Other Unified").id,
                     created_at=source.created_at + timedelta(seconds=5))  # as SQLite makes it after the removal
    assert listed_schools(app.redis, same_id) is None
    service.delete_source(source, None)
    assert not app.redis.keys("portal:source-schools:*")  # removed with its source


def test_confirming_adding_and_unmapping_schools(app, client, world, aeries):
    source = service.save_source(world["district"], "aeries", form(aeries), None)
    _run_test(app, client, world, source)
    url = f"{world['base']}/{source.id}"
    confirmed = post(client, f"{url}/mappings", {"school_id": world["obrien"].id, "sis_school_id": "994",
                                                 "sis_name": "OBrien Elementary"})
    assert confirmed.status_code == 200 and "is mapped to SIS school 994" in confirmed.get_data(as_text=True)
    added = post(client, f"{url}/add-school", {"sis_school_id": "1", "name": "Müller High School"})
    assert added.status_code == 200 and "was added to the portal" in added.get_data(as_text=True)
    new = db.session.scalar(db.select(School).filter_by(name="Müller High School"))
    assert new.district_id == world["district"].id and re.fullmatch(r"m-ller-high-school-[a-z2-9]{5}", new.slug)
    for school, sis_id in ((world["obrien"], "994"), (new, "1")):
        settings = settings_for(get_connection(school))
        assert (settings.school_id, settings.client_secret) == (sis_id, aeries.info["client_secret"])
    twice = post(client, f"{url}/mappings", {"school_id": world["garcia"].id, "sis_school_id": "994"})
    assert twice.status_code == 422 and "already mapped to OBrien Elementary" in twice.get_data(as_text=True)
    unmapped = post(client, f"{url}/unmap", {"school_id": world["obrien"].id})
    assert unmapped.status_code == 200 and "no longer syncs from" in unmapped.get_data(as_text=True)
    conn = get_connection(world["obrien"])
    assert conn.source_id is None and not conn.has_secret
    actions = [e.action for e in db.session.scalars(db.select(AuditEvent).where(
        AuditEvent.school_id == world["obrien"].id).order_by(AuditEvent.id))]
    assert actions == ["source_mapped", "source_unmapped"]  # tested before it was mapped: not its event
    assert db.session.scalar(db.select(AuditEvent.actor_id).where(AuditEvent.action == "source_mapped").limit(1)) \
        == world["dm"].id


def test_mapping_takes_over_a_school_that_had_its_own_credentials(world, aeries):
    make_connection(world["garcia"], secret="the-old-one", sync_parents=True, archive_threshold_percent=4.0)
    source = service.save_source(world["district"], "aeries", form(aeries), None)
    conn = service.map_school(source, world["garcia"], "5", None)
    assert conn.secret_encrypted is None and conn.url == "" and conn.sis_school_id == "5"
    assert (conn.sync_parents, conn.archive_threshold_percent) == (True, 4.0)  # its own settings stay
    detail = db.session.scalar(db.select(AuditEvent.detail).where(AuditEvent.action == "source_mapped"))
    assert "own saved credentials were removed" in detail


def test_a_school_first_connected_by_its_mapping_follows_the_sources_nights(world, aeries):
    """The manager switched the source's nights on: a school mapped (or added) without a connection of its own is
    synced by them; a school whose owner had turned Automatic Rostering off stays out, and its page says so."""
    make_connection(world["garcia"], automatic=False)
    source = service.save_source(world["district"], "aeries", form(aeries), None, automatic=True)
    added = service.add_school(source, "1", "Müller High School", None)
    kept_off = service.map_school(source, world["garcia"], "5", None)
    assert source.automatic and get_connection(added).automatic
    assert next_run_at(get_connection(added)) is not None
    assert not kept_off.automatic and next_run_at(kept_off) is None


@pytest.mark.parametrize("data", [{"school_id": "abc"}, {"school_id": "999999"}])
def test_mapping_an_unknown_school_is_404(client, world, aeries, data):
    source = service.save_source(world["district"], "aeries", form(aeries), None)
    assert post(client, f"{world['base']}/{source.id}/mappings", {**data, "sis_school_id": "5"}).status_code == 404


def test_a_sis_school_name_with_control_characters_maps_and_is_logged_on_one_line(client, world):
    """The SIS's name of the school rides along in the form as a label: a NUL byte in it (PostgreSQL refuses to
    store one) made Confirm mapping a 500."""
    source = make_source(world["district"])
    response = post(client, f"{world['base']}/{source.id}/mappings",
                    {"school_id": world["obrien"].id, "sis_school_id": "994", "sis_name": "O'Brien\x00\tElementary\n"})
    assert response.status_code == 200 and "OBrien Elementary is mapped to SIS school 994" in response.get_data(
        as_text=True)
    log = client.get("/schools/obrien/rostering/audit").get_data(as_text=True)
    assert "as SIS school O&#39;Brien Elementary (994)" in log


@pytest.mark.parametrize("htmx", [True, False])
def test_confirm_mapping_with_no_school_chosen_says_to_choose_one(app, client, world, aeries, htmx):
    """'Choose a school…' left as it was: the page says what to do (it was a 404 the page swallowed silently)."""
    source = service.save_source(world["district"], "aeries", form(aeries), None)
    _run_test(app, client, world, source)
    response = post(client, f"{world['base']}/{source.id}/mappings",
                    {"school_id": "", "sis_school_id": "5", "sis_name": "García Middle School"}, htmx=htmx)
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Choose the portal school for SIS school García Middle School" in body
    assert db.session.scalar(db.select(db.func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "source_mapped")) == 0


def test_a_school_of_another_district_cannot_be_mapped_or_unmapped(client, world, aeries):
    source = service.save_source(world["district"], "aeries", form(aeries), None)
    foreign = make_school(world["other"])
    url = f"{world['base']}/{source.id}"
    assert post(client, f"{url}/mappings", {"school_id": foreign.id, "sis_school_id": "5"}).status_code == 404
    assert post(client, f"{url}/unmap", {"school_id": foreign.id}).status_code == 404
    assert post(client, f"{url}/unmap", {"school_id": world["obrien"].id}).status_code == 404  # not mapped here
    assert get_connection(foreign) is None


def test_an_added_schools_address_does_not_tell_that_another_district_has_a_school_of_that_name(world):
    """It was faraway-elementary-2 when another district had a Faraway Elementary: the manager learnt it existed."""
    source = make_source(world["district"])
    alone = service.add_school(source, "1", "Nearby Elementary", None).slug  # no school of that name anywhere
    make_school(world["other"], name="Faraway Elementary", slug="faraway-elementary")
    beside = service.add_school(source, "2", "Faraway Elementary", None).slug
    again = service.add_school(source, "3", "Faraway Elementary", None).slug
    assert re.fullmatch(r"nearby-elementary-[a-z2-9]{5}", alone)  # the same shape, whoever else has the name
    assert re.fullmatch(r"faraway-elementary-[a-z2-9]{5}", beside) and re.fullmatch(r"faraway-elementary-[a-z2-9]{5}",
                                                                                     again) and beside != again


def test_two_adds_at_once_with_the_same_address_both_succeed(world, monkeypatch):
    """Another add took the address between the check and the insert: the unique slug made it a 500."""
    source = make_source(world["district"])
    free = service._slug_free

    def taken_meanwhile(slug):
        monkeypatch.setattr(service, "_slug_free", free)
        db.session.add(School(district_id=world["other"].id, name="Faraway Elementary", slug=slug))
        db.session.flush()  # the other request's row, after this check said the slug was free
        return True

    monkeypatch.setattr(service, "_slug_free", taken_meanwhile)
    added = service.add_school(source, "1", "Faraway Elementary", None)
    names = dict(db.session.execute(db.select(School.slug, School.district_id).where(School.name == added.name)).all())
    assert len(names) == 2 and names[added.slug] == world["district"].id  # both kept, each its own address
    assert get_connection(added).sis_school_id == "1"


def test_when_no_address_can_be_found_the_manager_is_asked_to_try_again(client, world, monkeypatch):
    source = make_source(world["district"])
    monkeypatch.setattr(service, "_slug_free", lambda slug: False)
    response = post(client, f"{world['base']}/{source.id}/add-school", {"sis_school_id": "1", "name": "Faraway"})
    assert response.status_code == 422 and "try Add again in a moment" in response.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count(School.id)).where(School.name == "Faraway")) == 0


@pytest.mark.parametrize("data, words", [
    ({"sis_school_id": "", "name": "New School"}, "Choose the SIS school"),
    ({"sis_school_id": "77", "name": ""}, "Give the school a name"),
    ({"sis_school_id": "7\n7", "name": "New School"}, "one line"),
])
def test_adding_a_school_with_bad_input_says_what_to_fix(client, world, aeries, data, words):
    source = service.save_source(world["district"], "aeries", form(aeries), None)
    response = post(client, f"{world['base']}/{source.id}/add-school", data)
    assert response.status_code == 422 and words in response.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count(School.id))) == 2


def test_an_owner_sees_the_mapping_read_only_and_keeps_their_sync_settings(client, auth, world, aeries):
    source = service.save_source(world["district"], "aeries", form(aeries), None)
    service.map_school(source, world["obrien"], "994", None)
    owner = make_owner(world["obrien"])
    auth.logout()
    auth.login(owner.email)
    page = client.get("/schools/obrien/rostering").get_data(as_text=True)
    assert source.name in page and "994" in page and "Your District Manager" in page
    assert 'name="client_secret"' not in page and aeries.info["client_id"] not in page
    assert 'action="/schools/obrien/rostering/settings"' in page  # the school's own settings form
    refused = client.post("/schools/obrien/rostering/connection",
                          data={**form(aeries), "school_id": "994", "csrf_token": csrf_token(client, "/login")})
    assert refused.status_code == 422
    assert "Ask your District Manager to change it there" in refused.get_data(as_text=True)
    assert client.get(f"{world['base']}/{source.id}").status_code == 403
    tested = client.post("/schools/obrien/rostering/connection/test", headers=HX, data={
        **form(aeries, client_secret=""), "school_id": "5", "csrf_token": csrf_token(client, "/login")})
    assert tested.status_code == 422 and "Sources page" in tested.get_data(as_text=True)  # not with its secret


def test_a_mapped_schools_owner_is_not_offered_a_nightly_time_that_the_source_overrides(client, auth, world, aeries):
    """The page took 06:00 for the school and said "Sync settings saved"; it still synced at the source's 2:30."""
    source = service.save_source(world["district"], "aeries", form(aeries), None, automatic=True, sync_time="02:30")
    conn = service.map_school(source, world["obrien"], "994", None)
    owner = make_owner(world["obrien"])
    auth.logout()
    auth.login(owner.email)
    page = client.get("/schools/obrien/rostering").get_data(as_text=True)
    assert 'name="sync_time"' not in page
    assert "Nightly at 2:30 AM" in page and "the district source's time" in page and source.name in page
    saved = client.post("/schools/obrien/rostering/settings", headers=HX, data={
        "csrf_token": csrf_token(client, "/login"), "sync_students": "on", "automatic": "on", "sync_time": "06:00",
        "archive_threshold_percent": "10"})
    assert saved.status_code == 200 and "Sync settings saved" in saved.get_data(as_text=True)
    db.session.refresh(conn)
    assert conn.sync_time != "06:00" and conn.automatic
    event = db.session.scalars(db.select(AuditEvent).where(AuditEvent.action == "settings_changed")
                               .order_by(AuditEvent.id.desc())).first()
    assert "nightly at 2:30 AM with the district source" in event.detail


def test_an_owner_sees_the_last_district_night_and_this_schools_run(client, auth, world):
    source = make_source(world["district"], name="Main SIS", last_test_result="1 check failed.",
                         last_tested_at=datetime(2026, 3, 2, 10, 5, tzinfo=timezone.utc))
    map_school(world["obrien"], source, "994")
    owner = make_owner(world["obrien"])
    auth.logout()
    auth.login(owner.email)
    page = client.get("/schools/obrien/rostering").get_data(as_text=True)
    assert "Mar 2, 2026, 2:05 AM: 1 check failed." in page and "None yet" in page  # Los Angeles time
    night = SourceNight(source_id=source.id, trigger="nightly", status="problems",
                        started_at=datetime(2026, 3, 3, 10, 0, tzinfo=timezone.utc))
    run = make_run(world["obrien"], status="needs_review", trigger="nightly")
    db.session.add(night)
    db.session.flush()
    db.session.add(SourceNightRun(night_id=night.id, run_id=run.id, school_id=world["obrien"].id))
    db.session.commit()
    page = client.get("/schools/obrien/rostering").get_data(as_text=True)
    assert "Mar 3, 2026, 2:00 AM: Some schools need attention" in page
    assert f'/schools/obrien/rostering/runs/{run.id}"' in page


def test_an_owner_whose_district_has_no_source_connects_alone(client, auth, world):
    owner = make_owner(world["garcia"])
    auth.logout()
    auth.login(owner.email)
    page = client.get("/schools/garcia/rostering").get_data(as_text=True)
    assert 'name="client_secret"' in page and "district source" not in page


# -- access -----------------------------------------------------------------------------------------

def source_routes(app):
    """(rule, method) for every Sources address and each method it answers."""
    return [(rule, method) for rule in app.url_map.iter_rules() if rule.endpoint.startswith("sources.")
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]


def _call(client, route, district_id, source_id, check_id="x" * 24, bundle_id=1):
    rule, method = route
    url = rule.build({"district_id": district_id, "source_id": source_id, "check_id": check_id,
                      "bundle_id": bundle_id}, append_unknown=False)[1]
    if method == "GET":
        return client.get(url)
    return client.post(url, data={"csrf_token": csrf_token(client, "/login")})


def test_there_are_source_routes(app):
    assert len(source_routes(app)) >= 10


@pytest.mark.parametrize("who", ["owner", "teacher", "school_admin"])
def test_other_roles_owners_included_get_403(app, client, auth, world, who):
    source = make_source(world["district"])
    person = make_owner(world["obrien"]) if who == "owner" else make_person(world["obrien"], role=who, password=PASSWORD)
    auth.logout()
    auth.login(person.email)
    for route in source_routes(app):
        assert _call(client, route, world["district"].id, source.id).status_code == 403, route


def test_an_owner_on_a_sources_page_is_told_who_sets_sources_up(client, auth, world):
    """The 403 page told an Owner that "Rostering is for school Owners and District Managers"."""
    source = make_source(world["district"])
    auth.logout()
    auth.login(make_owner(world["obrien"]).email)
    for url in (world["base"], f"{world['base']}/{source.id}"):
        response = client.get(url)
        body = response.get_data(as_text=True)
        assert response.status_code == 403
        assert "SIS sources are set up by your district&#39;s District Managers" in body
        assert "Rostering is for school Owners and District Managers" not in body
    auth.logout()
    auth.login(make_person(world["obrien"], role="teacher", password=PASSWORD).email)
    other = client.get(f"/schools/{world['obrien'].slug}/rostering")  # any other 403 keeps the general sentence
    assert other.status_code == 403 and "Rostering is for school Owners and District Managers" in other.get_data(
        as_text=True)


def test_another_district_or_source_is_404(app, client, auth, world):
    mine = make_source(world["district"])
    theirs = make_source(world["other"])
    for route in source_routes(app):
        assert _call(client, route, world["other"].id, theirs.id).status_code == 404, route
        if "source_id" in route[0].arguments:
            assert _call(client, route, world["district"].id, theirs.id).status_code == 404, route
            assert _call(client, route, world["district"].id, 999999).status_code == 404, route
    assert client.get(f"{world['base']}/{mine.id}").status_code == 200


def test_anonymous_is_sent_to_sign_in(app, client, auth, world):
    source = make_source(world["district"])
    auth.logout()
    for route in source_routes(app):
        response = _call(client, route, world["district"].id, source.id)
        assert response.status_code in (302, 400), route


def test_a_test_result_is_the_starters_alone(app, client, auth, world, aeries):
    source = service.save_source(world["district"], "aeries", form(aeries), None)
    queued = post(client, f"{world['base']}/{source.id}/test", form(aeries, client_secret=""))
    poll = re.search(r'hx-get="([^"]+)"', queued.get_data(as_text=True)).group(1)
    colleague = make_district_manager(world["district"])
    auth.logout()
    auth.login(colleague.email)
    assert client.get(poll, headers=HX).status_code == 404


# -- suggestions ------------------------------------------------------------------------------------

def test_suggestions_prefer_the_saved_school_id_then_the_name_and_use_each_school_once():
    sis = [{"source_id": "994", "name": "Lincoln High School", "identifier": "LHS"},
           {"source_id": "5", "name": "Lincoln High", "identifier": ""},
           {"source_id": "7", "name": "Roosevelt Middle School", "identifier": "RMS"},
           {"source_id": "8", "name": "Completely Different", "identifier": "adams"}]
    candidates = [Candidate(1, "Lincoln High", "lincoln", sis_school_id="994"), Candidate(2, "Roosvelt Middle", "rms"),
                  Candidate(3, "Adams Elementary", "adams")]
    chosen = suggest(sis, candidates)
    assert (chosen["994"].school_id, chosen["994"].reason) == (1, "same School ID")
    assert "5" not in chosen  # Lincoln is already the best match of 994
    assert (chosen["7"].school_id, chosen["7"].reason) == (2, "identifier matches its address name")
    assert (chosen["8"].school_id, chosen["8"].reason) == (3, "identifier matches its address name")
    assert suggest(sis, []) == {}


# -- pages without htmx ------------------------------------------------------------------------------

def test_the_index_lists_the_sources_with_their_schools_and_last_test(client, world, aeries):
    source = service.save_source(world["district"], "aeries", form(aeries), None, name="Main SIS")
    map_school(world["garcia"], source, "5")
    page = client.get(world["base"])
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Main SIS" in html and "1 school" in html and "not tested yet" in html
    assert "Add a source" in html and aeries.info["client_secret"] not in html
    overview = client.get(f"/districts/{world['district'].id}/rostering").get_data(as_text=True)
    assert f'href="{world["base"]}"' in overview


def test_without_javascript_a_bad_form_is_the_whole_page_with_422(client, world, aeries):
    response = post(client, world["base"], form(aeries, url="nonsense"), htmx=False)
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "Add a source" in html and 'id="field-url-error"' in html
    assert aeries.info["client_secret"] not in html
    source = service.save_source(world["district"], "aeries", form(aeries), None)
    response = post(client, f"{world['base']}/{source.id}", form(aeries, sync_time="nope"), htmx=False)
    assert response.status_code == 422 and 'id="field-sync_time-error"' in response.get_data(as_text=True)
    mapped = post(client, f"{world['base']}/{source.id}/mappings", {"school_id": world["obrien"].id,
                                                                    "sis_school_id": "994"}, htmx=False)
    assert mapped.status_code == 302
    assert "OBrien Elementary is mapped" in client.get(mapped.headers["Location"]).get_data(as_text=True)


def test_the_vendor_fields_partial_swaps_without_school_id(client, world):
    html = client.get(f"{world['base']}/vendor-fields?vendor=infinite-campus", headers=HX).get_data(as_text=True)
    assert 'name="app_name"' in html and 'name="school_id"' not in html
    assert f'hx-get="{world["base"]}/vendor-fields' in html  # the Campus URL field asks this page, not a school's
    for bad in ("9" * 40, "2147483648", "-1", "x"):
        assert client.get(f"{world['base']}/vendor-fields?source={bad}", headers=HX).status_code == 200


def test_the_nightly_time_is_the_schools_quarter_hour_list_in_the_districts_words(client, world, aeries):
    """Like the school's sync settings: "2:00 AM" every quarter hour, the saved time chosen."""
    html = client.get(world["base"]).get_data(as_text=True)
    select = re.search(r'<select id="field-sync_time".*?</select>', html, re.S).group(0)
    options = re.findall(r'<option value="([^"]+)"( selected)?>([^<]+)</option>', select)
    assert len(options) == 96 and options[0] == ("00:00", "", "12:00 AM") and options[-1] == ("23:45", "", "11:45 PM")
    assert [(value, label) for value, chosen, label in options if chosen] == [("02:00", "2:00 AM")]
    saved = post(client, world["base"], form(aeries, sync_time="19:15"), htmx=False)
    page = client.get(saved.headers["Location"]).get_data(as_text=True)
    assert '<option value="19:15" selected>7:15 PM</option>' in page


def test_switching_the_sis_clears_what_was_typed_for_the_other_one(client, world):
    """#17.5 on the Sources page too: the Aeries URL and Consumer ID typed do not follow to Infinite Campus."""
    typed = "vendor=infinite-campus&url=https://district.aeries.net/aeries/&client_id=aeries-consumer&client_secret=x1"
    html = client.get(f"{world['base']}/vendor-fields?{typed}", headers=HX).get_data(as_text=True)
    assert 'name="app_name"' in html
    for value in ("district.aeries.net", "aeries-consumer", "x1"):
        assert f'value="{value}' not in html
    assert set(re.findall(r'<input type="text"[^>]*value="([^"]*)"', html)) == {""}
    url = "https://campus.example.org/campus/api/oneroster/v1p1/lakeside"  # the Campus URL field's own request
    prefilled = client.get(f"{world['base']}/vendor-fields", headers=HX,
                           query_string={"vendor": "infinite-campus", "url": url, "prefill": "1"}).get_data(as_text=True)
    assert f'value="{url}"' in prefilled and 'value="lakeside"' in prefilled


def test_switching_back_to_the_sources_saved_sis_shows_its_saved_values(client, world):
    source = make_source(world["district"], vendor="aeries", url="https://demo.aeries.net/aeries/", client_id="saved-id")
    url = f"{world['base']}/vendor-fields?source={source.id}"
    campus = client.get(f"{url}&vendor=infinite-campus&client_id=saved-id", headers=HX).get_data(as_text=True)
    assert "saved-id" not in campus and "demo.aeries.net" not in campus and "Saved</span>" not in campus
    aeries = client.get(f"{url}&vendor=aeries&client_id=typed", headers=HX).get_data(as_text=True)
    assert 'value="saved-id"' in aeries and 'value="typed"' not in aeries and "Saved</span>" in aeries


def test_a_source_is_removed_only_once_no_school_syncs_from_it(client, world, aeries):
    source = service.save_source(world["district"], "aeries", form(aeries), None)
    service.map_school(source, world["obrien"], "994", None)
    url = f"{world['base']}/{source.id}/delete"
    refused = post(client, url, {}, htmx=False)
    assert refused.status_code == 302
    shown = client.get(refused.headers["Location"]).get_data(as_text=True)
    assert "1 school still sync from" in shown and "OBrien Elementary" in shown and "unmap them first" in shown
    assert db.session.get(Source, source.id) is not None
    service.unmap_school(world["obrien"], None)
    db.session.add(SourceNight(source_id=source.id, trigger="nightly", status="succeeded"))
    db.session.commit()
    removed = post(client, url, {}, htmx=False)
    assert removed.status_code == 302 and removed.headers["Location"].endswith(world["base"])
    db.session.expire_all()
    assert db.session.get(Source, source.id) is None
    assert db.session.scalar(db.select(db.func.count(SourceNight.id))) == 0  # its nights went with it
    assert "was removed" in client.get(world["base"]).get_data(as_text=True)


def test_the_district_audit_log_says_who_added_saved_and_removed_a_source_no_school_used(client, world, aeries):
    """A source no school syncs from leaves no trace in any school's log: the district's own log says who did it."""
    added = post(client, world["base"], form(aeries, name="Main SIS"), htmx=False)
    source = db.session.scalar(db.select(Source))
    post(client, added.headers["Location"], form(aeries, name="Main SIS", client_secret="", sync_time="03:15"),
         htmx=False)
    assert post(client, f"{world['base']}/{source.id}/delete", {}, htmx=False).status_code == 302
    log = client.get(f"{world['base']}/audit")
    rows = re.findall(r"<tr>\s*<td>[^<]+</td>\s*<td>([^<]+)</td>\s*<td>([^<]+)</td>\s*<td>([^<]+)</td>",
                      log.get_data(as_text=True))
    who = world["dm"].full_name
    assert log.status_code == 200 and [(w, action) for w, action, _ in rows] == [
        (who, "Removed a source"), (who, "Saved a source"), (who, "Added a source")]
    removed, saved, first = (detail for _, _, detail in rows)
    assert "Main SIS removed: Aeries" in removed and "nightly at 3:15 AM" in saved and "nightly at 2:30 AM" in first
    assert aeries.info["client_secret"] not in log.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count(AuditEvent.id))) == 0  # no school's log: none used it
    assert "District audit log" in client.get(world["base"]).get_data(as_text=True)


def test_every_source_post_refuses_a_missing_csrf_token(app, client, world):
    source = make_source(world["district"])
    for route in source_routes(app):
        rule, method = route
        if method == "POST":
            url = rule.build({"district_id": world["district"].id, "source_id": source.id}, append_unknown=False)[1]
            assert client.post(url, data={"school_id": world["obrien"].id}, headers=HX).status_code == 400, route
    assert db.session.get(Source, source.id) is not None


def test_a_district_manager_is_served_on_every_source_route(app, client, world, tmp_path):
    source = make_source(world["district"])
    stored = tmp_path / "bundle.zip"
    stored.write_bytes(b"PK\x05\x06" + bytes(18))  # an empty zip: the download serves it as received
    bundle = RosterBundle(source_id=source.id, via="upload", filename="export.zip", stored_path=str(stored),
                          status="invalid")
    db.session.add(bundle)
    db.session.commit()
    test = source_checks.new_test(world["dm"].id, source, ConnectionSettings(
        vendor="aeries", base_url="https://sis.example.org/aeries", token_urls=("https://sis.example.org/t",),
        client_id="c", client_secret="s", school_id="5"))
    source_checks.save(app.redis, test)
    map_school(world["obrien"], source, "994")
    token = csrf_token(client, "/login")
    for rule, method in source_routes(app):
        if rule.endpoint == "sources.delete":
            continue
        url = rule.build({"district_id": world["district"].id, "source_id": source.id, "check_id": test.check_id,
                          "bundle_id": bundle.id}, append_unknown=False)[1]
        response = client.get(url) if method == "GET" else \
            client.post(url, data={"csrf_token": token, "school_id": world["obrien"].id}, headers=HX)
        assert_served_signed_in(response, (rule.endpoint, method))
    assert client.get("/", follow_redirects=True).status_code == 200  # still signed in after all


# -- hostile input ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", sorted(BAD_VALUES))
def test_hostile_values_in_every_source_form_get_a_clear_answer(client, world, aeries, kind):
    bad = BAD_VALUES[kind]
    source = service.save_source(world["district"], "aeries", form(aeries), None)
    url = f"{world['base']}/{source.id}"
    for field in ("name", "url", "client_id", "client_secret", "sync_time"):
        response = post(client, url, form(aeries, **{field: bad}))
        body = response.get_data(as_text=True)
        assert response.status_code in (204, 422), (field, response.status_code)
        assert "<script>alert(1)</script>" not in body and "Traceback" not in body
    for path, data in (("/mappings", {"school_id": world["obrien"].id, "sis_school_id": bad, "sis_name": bad}),
                       ("/add-school", {"sis_school_id": bad, "name": bad}),
                       ("/add-school", {"sis_school_id": "77", "name": bad})):
        response = post(client, url + path, data)
        body = response.get_data(as_text=True)
        assert response.status_code in (200, 422), (path, response.status_code)
        assert "<script>alert(1)</script>" not in body and "Traceback" not in body
    response = client.get(f"{world['base']}/vendor-fields?vendor={quote(bad[:2000])}&url={quote(bad[:2000])}", headers=HX)
    assert response.status_code == 200 and "<script>alert(1)</script>" not in response.get_data(as_text=True)
    db.session.expire_all()
    assert decrypt_secret(db.session.get(Source, source.id).secret_encrypted) in (aeries.info["client_secret"], bad)
