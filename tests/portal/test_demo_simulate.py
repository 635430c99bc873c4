"""Item 21: the demo's "Simulate SIS changes" (button and CLI) makes the sandbox SIS rename, remove and add some of a
school's people, so Preview has something to show; it exists only where DEMO_SANDBOX_URL is set."""
import pytest

from connectors.sandbox.mutations import simulate
from store.db import db
from store.models import AuditEvent
from tests.factories import make_owner, make_school, make_source, map_school
from tests.support import connect, csrf_token, expected_people, sandbox_fixture, sync, text

pytestmark = pytest.mark.usefixtures("no_backoff")


box = sandbox_fixture(seed=47, students=60)


@pytest.fixture
def demo(app, box):
    app.config["DEMO_SANDBOX_URL"] = box.info["admin_url"]
    school = make_school()
    connect(school, box, auto_update=False, archive=False)
    assert sync(school).status == "succeeded"
    return school


def test_simulate_renames_removes_and_adds_people_of_one_school(box):
    school_id = box.data.school_ids[0]
    before = {sid: (p.family_name, p.is_leaving) for sid, p in expected_people(box).items()}
    result = simulate(box.data, school_id, renames=4, removals=2, additions=3, seed=1)
    after = {p.source_id: p for p in box.people(0)}
    assert all(after[sid].family_name != before[sid][0] for sid in result["renamed"])
    assert all(after[sid].is_leaving for sid in result["removed"])
    assert all(sid not in before and after[sid].role == "student" and not after[sid].is_leaving
               for sid in result["added"])
    assert (len(result["renamed"]), len(result["removed"]), len(result["added"])) == (4, 2, 3)
    assert set(result["renamed"]) | set(result["removed"]) <= set(before)
    others = {p.source_id for p in box.people(1)}
    assert not others & (set(result["renamed"]) | set(result["removed"]) | set(result["added"]))


@pytest.mark.parametrize("options, message", [({"renames": -1}, "renames must be a whole number from 0 to 500"),
                                              ({"additions": 501}, "additions must be"),
                                              ({"removals": "3"}, "removals must be"),
                                              ({"school_id": "nope"}, "The sandbox has no school 'nope'")])
def test_simulate_refuses_bad_values(box, options, message):
    options = {"school_id": box.data.school_ids[0], **options}
    with pytest.raises(ValueError, match=message):
        simulate(box.data, **options)


def test_the_button_changes_the_sis_and_preview_shows_it(client, auth, demo, box):
    auth.login(make_owner(demo).email)
    page = text(client.get(f"/schools/{demo.slug}/rostering"))
    assert "Simulate SIS changes" in page
    response = client.post(f"/schools/{demo.slug}/rostering/demo/simulate",
                           data={"csrf_token": csrf_token(client, f"/schools/{demo.slug}/rostering")},
                           follow_redirects=True)
    assert response.status_code == 200
    assert ("The demo SIS renamed 5 people (new last names), marked 3 as leaving and enrolled 3 new students. "
            "Press Preview") in text(response)
    preview = sync(demo, trigger="preview")
    # Auto update off: the 5 renamed are skipped; Archive off: the 3 leaving are kept (skipped too)
    assert (preview.created, preview.skipped, preview.would_archive) == (3, 8, 0)
    audit = db.session.scalar(db.select(AuditEvent).where(AuditEvent.action == "demo_sis_changed"))
    assert audit.detail.startswith("The demo SIS renamed 5 people")


def test_outside_the_demo_there_is_no_control(client, auth, app, demo):
    app.config["DEMO_SANDBOX_URL"] = ""
    auth.login(make_owner(demo).email)
    assert "Simulate SIS changes" not in text(client.get(f"/schools/{demo.slug}/rostering"))
    response = client.post(f"/schools/{demo.slug}/rostering/demo/simulate",
                           data={"csrf_token": csrf_token(client, f"/schools/{demo.slug}/rostering")})
    assert response.status_code == 409
    assert "only part of the demo" in text(response)


def test_a_school_not_connected_to_the_sandbox_is_refused(client, auth, app, demo):
    app.config["DEMO_SANDBOX_URL"] = "http://127.0.0.1:9/_sandbox/admin"  # another origin than the connection's
    auth.login(make_owner(demo).email)
    response = client.post(f"/schools/{demo.slug}/rostering/demo/simulate",
                           data={"csrf_token": csrf_token(client, f"/schools/{demo.slug}/rostering")})
    assert response.status_code == 409 and "is not connected to the demo sandbox SIS" in text(response)


def test_the_cli_simulates_changes(app, runner, demo, box):
    result = runner.invoke(args=["demo", "simulate-changes", "--school", demo.slug, "--renames", "2",
                                 "--removals", "1", "--additions", "1", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert "The demo SIS renamed 2 people (new last names), marked 1 as leaving and enrolled 1 new students." \
        in result.output
    unknown = runner.invoke(args=["demo", "simulate-changes", "--school", "nowhere"])
    assert unknown.exit_code != 0 and "No school 'nowhere'" in unknown.output


def test_the_cli_says_when_the_sandbox_is_down(app, runner, demo, box):
    box.stop()
    result = runner.invoke(args=["demo", "simulate-changes", "--school", demo.slug])
    assert result.exit_code != 0 and "did not answer" in result.output and "make demo" in result.output


def test_a_school_mapped_to_a_district_source_on_the_sandbox_can_simulate(client, auth, app, box):
    app.config["DEMO_SANDBOX_URL"] = box.info["admin_url"]
    school = make_school()
    source = make_source(school.district, vendor="oneroster", url=box.info["base_url"])
    map_school(school, source, box.data.school_ids[1])
    leaving_before = {p.source_id for p in box.people(1) if p.is_leaving}
    auth.login(make_owner(school).email)
    response = client.post(f"/schools/{school.slug}/rostering/demo/simulate",
                           data={"csrf_token": csrf_token(client, f"/schools/{school.slug}/rostering")})
    assert response.status_code == 302
    renamed = db.session.scalar(db.select(AuditEvent.detail).where(AuditEvent.action == "demo_sis_changed"))
    assert renamed.startswith("The demo SIS renamed 5 people")
    assert len({p.source_id for p in box.people(1) if p.is_leaving} - leaving_before) == 3  # its sandbox school


def test_a_school_on_the_csv_method_is_not_offered_the_control(client, auth, app, box, bundle_store):
    """It reads bundles, not the sandbox: the button answered 409 with advice to run `make demo` again."""
    from tests.factories import make_csv_connection
    app.config["DEMO_SANDBOX_URL"] = box.info["admin_url"]
    school = make_school()
    make_csv_connection(school)
    auth.login(make_owner(school).email)
    page = text(client.get(f"/schools/{school.slug}/rostering"))
    assert "Sync now" in page and "Simulate SIS changes" not in page
