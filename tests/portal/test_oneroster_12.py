"""OneRoster 1.2 through the Rostering page against the sandbox over real HTTP: the version choice, a move from 1.1
to 1.2 that re-keys everyone (Preview says "re-keyed N", nobody archived or added), and each vendor that offers 1.2
configured at 1.2: test, sync, re-sync changes nothing."""
import pytest

from connectors.checklist import headline, run_connection_test
from jobs.connection import get_connection, settings_for
from store.db import db
from store.models import Person, SyncChange
from tests.support import SETTINGS, expected_people, page_form, running_sandbox, sync
from portal.rostering import service

HX = {"HX-Request": "true"}
PAGE = "/schools/lincoln/rostering"


def form(client, box, vendor, **more):
    return page_form(client, box, vendor, PAGE, **more)


def save(client, data):
    """Save connection, pressing "Save anyway" (these tests run no Test connection before a re-save)."""
    response = client.post(f"{PAGE}/connection", data={**data, "confirm": "untested"}, headers=HX)
    assert response.status_code in (200, 204), response.get_data(as_text=True)[:2000]
    assert response.status_code == 204 or "Connection saved without a test" in response.get_data(as_text=True)


def rostered(school) -> dict[int, str]:
    db.session.expire_all()
    return {p.id: p.source_id for p in db.session.scalars(db.select(Person).where(
        Person.school_id == school.id, Person.source_id.is_not(None), Person.status == "active"))}


def test_the_version_menu_shows_only_where_the_vendor_offers_both(client, owner):
    for vendor, offered in (("infinite-campus", True), ("oneroster", True), ("aeries", False), ("powerschool", False),
                            ("skyward", False), ("synergy", False), ("classlink", False)):
        html = client.get(f"{PAGE}/vendor-fields?vendor={vendor}", headers=HX).get_data(as_text=True)
        assert ('name="oneroster_version"' in html) == offered, vendor
        assert 'type="date" id="field-credentials_expire_on"' in html, vendor
    html = client.get(f"{PAGE}/vendor-fields?vendor=infinite-campus", headers=HX).get_data(as_text=True)
    assert '<option value="1.2">OneRoster 1.2</option>' in html and "at most 13" in html


def test_the_cli_sets_the_version_and_refuses_one_the_vendor_does_not_offer(runner, world):
    with running_sandbox("infinite-campus", schools=1, students=5, seed=3, oneroster_12=True) as box:
        info = box.info
        common = ["roster", "configure", "--school", "lincoln", "--url", info["base_url"], "--client-id",
                  info["client_id"], "--client-secret", info["client_secret"], "--sis-school-id",
                  info["school_ids"][0]]
        result = runner.invoke(args=common + ["--vendor", "aeries", "--version", "1.2"])
        assert result.exit_code == 2 and "--version: Aeries offers OneRoster 1.1 here; choose it." in result.output
        assert get_connection(world["school"]) is None
        result = runner.invoke(args=common + ["--vendor", "infinite-campus", "--app-name", info["app_name"],
                                              "--version", "1.2", "--credentials-expire-on", "2099-01-01"])
        assert result.exit_code == 2 and "--credentials-expire-on: Campus lets credentials last at most 13 months" \
            in result.output
        campus = common + ["--vendor", "infinite-campus", "--app-name", info["app_name"], "--students", "--teachers"]
        assert runner.invoke(args=campus).exit_code == 0
        assert runner.invoke(args=["roster", "sync", "--school", "lincoln"]).exit_code == 0
        result = runner.invoke(args=campus + ["--version", "1.2"])
        assert result.exit_code == 0, result.output
        assert "(OneRoster 1.2; secret stored encrypted)" in result.output
        assert get_connection(world["school"]).oneroster_version == "1.2"
        result = runner.invoke(args=["roster", "test", "--school", "lincoln"])
        assert result.exit_code == 0 and "✓ Token obtained" in result.output, result.output
        people = len(rostered(world["school"]))
        result = runner.invoke(args=["roster", "sync", "--school", "lincoln", "--preview"])
        assert result.exit_code == 0 and f"re-keyed {people} (same people under new SIS ids" in result.output, \
            result.output
        result = runner.invoke(args=["roster", "sync", "--school", "lincoln", "--json"])
        assert '"rekeyed": %d' % people in result.output and '"created": 0' in result.output


@pytest.mark.parametrize("vendor, legacy_ids", [("infinite-campus", True), ("oneroster", False)])
def test_moving_to_1_2_re_keys_everyone_and_a_re_sync_changes_nothing(client, owner, world, vendor, legacy_ids):
    """Campus re-keys by its legacy id; the generic shape, which sends none, by SIS id."""
    school = world["school"]
    with running_sandbox(vendor, schools=2, students=40, seed=12, oneroster_12=True) as box:
        some = next(iter(box.data.users))
        assert ("ic.legacysourceId" in box.data.served_as(some, "1.2").get("metadata", {})) == legacy_ids
        save(client, form(client, box, vendor))
        service.save_sync_settings(get_connection(school), **{**SETTINGS, "archive": True, "sync_parents": True})
        first = sync(school)
        assert first.status == "succeeded", first.error_message
        before = rostered(school)
        assert first.created == len(before) == len(expected_people(box)) > 0

        save(client, form(client, box, vendor, client_secret="", oneroster_version="1.2"))  # the saved secret reused
        conn = get_connection(school)
        assert (conn.oneroster_version, conn.keyed_version) == ("1.2", "1.1")
        assert settings_for(conn).data_url.endswith("/ims/oneroster/rostering/v1p2")

        preview = sync(school, trigger="preview")
        assert preview.status == "succeeded", preview.error_message
        assert (preview.rekeyed, preview.created, preview.archived, preview.updated) == (len(before), 0, 0, 0)
        assert rostered(school) == before  # a preview writes nothing
        html = client.get(PAGE).get_data(as_text=True)
        assert f"Would re-key {len(before)} people" in html and "Would re-key (same person, new SIS id)" in html
        assert "Would archive" not in html and "Would create" not in html

        moved = sync(school)
        assert moved.status == "succeeded", moved.error_message
        assert (moved.rekeyed, moved.created, moved.archived, moved.issues) == (len(before), 0, 0, 0)
        after = rostered(school)
        assert set(after) == set(before) and not set(after.values()) & set(before.values())
        logged = db.session.scalars(db.select(SyncChange).where(SyncChange.run_id == moved.id,
                                                                SyncChange.action != "skip")).all()  # skips: why
        assert {(c.action, c.field) for c in logged} == {("rekey", "source_id")}
        assert {(c.before, c.after) for c in logged} == {(before[c.person_id], after[c.person_id]) for c in logged}
        assert get_connection(school).keyed_version == "1.2"
        run_html = client.get(f"{PAGE}/runs/{moved.id}").get_data(as_text=True)
        assert f"Re-keyed {len(before)} people" in run_html

        again = sync(school)
        assert again.status == "succeeded", again.error_message
        assert (again.created, again.updated, again.archived, again.rekeyed, again.issues) == (0, 0, 0, 0, 0)
        assert again.unchanged == len(before) and rostered(school) == after


@pytest.mark.parametrize("vendor", ["infinite-campus", "oneroster"])
def test_each_vendor_offering_1_2_is_configured_tested_and_synced_at_1_2(client, owner, world, vendor):
    school = world["school"]
    with running_sandbox(vendor, schools=2, students=30, seed=14, oneroster_12=True) as box:
        save(client, form(client, box, vendor, oneroster_version="1.2"))
        conn = get_connection(school)
        settings = settings_for(conn)
        assert (conn.oneroster_version, settings.scope.split()[0]) == (
            "1.2", "https://purl.imsglobal.org/spec/or/v1p2/scope/roster-core.readonly")
        rows = run_connection_test(settings)
        assert not any(r.fails for r in rows) and headline(rows).startswith("Connection works"), \
            [(r.key, r.status, r.detail) for r in rows]
        assert {r.key for r in rows if r.status == "ok"} >= {"token", "school", "read:students", "read:teachers"}
        service.save_sync_settings(conn, **SETTINGS)
        first = sync(school)
        assert first.status == "succeeded", first.error_message
        assert first.created == len(expected_people(box)) > 0 and first.rekeyed == 0
        again = sync(school)
        assert (again.created, again.updated, again.archived, again.rekeyed) == (0, 0, 0, 0)
        assert again.unchanged == first.created


def test_a_person_renamed_in_the_move_is_re_keyed_and_updated_in_one_run(app, world):
    school = world["school"]
    with running_sandbox("oneroster", schools=1, students=12, seed=15, oneroster_12=True) as box:
        values = {"url": box.info["base_url"], "token_url": box.info["token_url"], "auth_mode": "oauth2",
                  "client_id": box.info["client_id"], "client_secret": box.info["client_secret"],
                  "school_id": box.info["school_ids"][0]}
        service.save_sync_settings(service.save_connection(school, "oneroster", values, actor=None), **SETTINGS)
        assert sync(school).status == "succeeded"
        student = next(sid for sid, p in expected_people(box).items() if p.role == "student")
        person_id = next(pid for pid, sid in rostered(school).items() if sid == student)
        box.rename(student, given_name="Renamed")
        service.save_connection(school, "oneroster", {**values, "client_secret": "", "oneroster_version": "1.2"},
                                actor=None)
        run = sync(school)
        assert (run.status, run.updated, run.created, run.archived) == ("succeeded", 1, 0, 0), run.error_message
        assert run.rekeyed == len(rostered(school))
        person = db.session.get(Person, person_id)
        assert person.given_name == "Renamed" and person.source_id != student
        assert {(c.action, c.field) for c in db.session.scalars(db.select(SyncChange).where(
            SyncChange.run_id == run.id, SyncChange.person_id == person_id, SyncChange.action != "skip"))} == {
            ("rekey", "source_id"), ("update", "given_name")}
