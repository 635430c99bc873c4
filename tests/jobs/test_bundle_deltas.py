"""Delta bundles as exports write them (#16's bulk versus delta): an orgs.csv that is a delta file too holds only the
orgs changed since the last export, often none, so the school's own row may be missing (the School ID saved for the
school, or its mapping, says which school it is); a deletion row may leave the person's names blank."""
import pytest

from jobs.bundles import accept_bundle
from jobs.source_bundles import bundle_schools, check_and_list, store_source_bundle
from store.db import db
from store.models import SyncRun
from tests.connectors.csv_helpers import MANIFEST_11, ORGS_HEADER, bundle_files, user_row, users, write_zip
from tests.factories import make_csv_connection, make_district, make_school, make_source, map_school
from tests.support import people, sync_bundle

DELTA = MANIFEST_11.replace("file.orgs,bulk", "file.orgs,delta").replace("file.users,bulk", "file.users,delta")
DELTA_USERS = MANIFEST_11.replace("file.users,bulk", "file.users,delta")
NO_ORGS_CHANGED = ORGS_HEADER + "\n"


def _zip(tmp_path, name, **files):
    return write_zip(tmp_path / name, bundle_files(**files))


def _school_rostered_with_u1_u2(tmp_path):
    """A school on the CSV method with Archive on whose first bulk bundle rostered u1 and u2."""
    school = make_school()
    make_csv_connection(school, archive=True, archive_threshold_percent=50)
    first = accept_bundle(school.id, _zip(tmp_path, "a.zip", users_csv=users(user_row("u1"), user_row("u2"))),
                          via="upload", filename="a.zip", sync=False)
    assert sync_bundle(school, first).status == "succeeded"
    return school


def test_a_delta_with_no_changed_orgs_applies_to_the_school_its_school_id_names(app, bundle_store, tmp_path):
    school = _school_rostered_with_u1_u2(tmp_path)
    delta = accept_bundle(school.id, _zip(tmp_path, "b.zip", manifest_csv=DELTA, orgs_csv=NO_ORGS_CHANGED,
                                          users_csv=users(user_row("u2", status="tobedeleted"), user_row("u3"))),
                          via="upload", filename="b.zip", sync=False)
    assert (delta.status, delta.error_count, delta.users_mode) == ("valid", 0, "delta"), delta.report_csv
    run = sync_bundle(school, delta)
    assert (run.status, run.created, run.archived) == ("succeeded", 1, 1)
    assert [(p[0], p[3]) for p in people(school)] == [("u1", "active"), ("u2", "archived"), ("u3", "active")]


def test_a_delta_without_the_schools_org_and_no_school_id_says_to_enter_it(app, bundle_store, tmp_path):
    school = make_school()
    make_csv_connection(school, sis_school_id="")
    delta = accept_bundle(school.id, _zip(tmp_path, "b.zip", manifest_csv=DELTA, orgs_csv=NO_ORGS_CHANGED),
                          via="upload", filename="b.zip", sync=False)
    assert delta.status == "invalid" and "delta" in delta.summary and "School ID" in delta.summary
    assert db.session.scalar(db.select(db.func.count(SyncRun.id))) == 0 and people(school) == []


def test_a_bulk_orgs_file_without_orgs_is_still_an_error(app, bundle_store, tmp_path):
    school = make_school()
    make_csv_connection(school)
    bulk_users_delta_orgs = DELTA.replace("file.users,delta", "file.users,bulk").replace("file.orgs,delta",
                                                                                          "file.orgs,bulk")
    bundle = accept_bundle(school.id, _zip(tmp_path, "b.zip", manifest_csv=bulk_users_delta_orgs,
                                           orgs_csv=NO_ORGS_CHANGED), via="upload", filename="b.zip", sync=False)
    assert bundle.status == "invalid" and "orgs.csv has a header but no orgs" in bundle.summary


def test_a_district_sources_delta_with_no_changed_orgs_syncs_each_mapped_school(app, bundle_store, tmp_path):
    district = make_district()
    source = make_source(district, name="District CSV", method="csv", vendor="oneroster", url="", client_id="",
                         commit=False)
    source.secret_encrypted = None
    north, south = (make_school(district, name=name, slug=slug) for name, slug in (("North", "n"), ("South", "s")))
    map_school(north, source, "s1", method="oneroster_csv", commit=False)
    map_school(south, source, "s2", method="oneroster_csv", commit=False)
    db.session.commit()
    bundle = store_source_bundle(source.id, _zip(tmp_path, "d.zip", manifest_csv=DELTA, orgs_csv=NO_ORGS_CHANGED,
                                                 users_csv=users(user_row("n1", org="s1"), user_row("s1", org="s2"))),
                                 via="upload", filename="d.zip")
    synced = check_and_list(bundle.id, sync=False)  # the mapped schools a night of this bundle syncs
    db.session.refresh(bundle)
    assert bundle.status == "valid", bundle.report_csv
    assert sorted(conn.school_id for conn in synced) == [north.id, south.id]


def test_a_delta_deletion_row_without_names_still_archives_the_person(app, bundle_store, tmp_path):
    """It said "User u2 has no givenName or familyName" and kept u2 active, although the SIS deleted them."""
    school = _school_rostered_with_u1_u2(tmp_path)
    deleted = user_row("u2", status="tobedeleted", given="", family="", email="", username="")
    delta = accept_bundle(school.id, _zip(tmp_path, "b.zip", manifest_csv=DELTA_USERS, users_csv=users(deleted)),
                          via="upload", filename="b.zip", sync=False)
    assert (delta.status, delta.warning_count) == ("valid", 0), delta.report_csv
    run = sync_bundle(school, delta)
    assert (run.status, run.archived, run.issues) == ("succeeded", 1, 0)
    assert [(p[0], p[3]) for p in people(school)] == [("u1", "active"), ("u2", "archived")]


def test_the_schools_to_map_come_from_the_newest_bundle_that_lists_any(app, bundle_store, tmp_path):
    """A delta with no changed orgs lists no school: the source's mapping table (and `roster source test`) would
    have gone empty after every delta."""
    district = make_district()
    source = make_source(district, name="District CSV", method="csv", vendor="oneroster", url="", client_id="")
    bulk = store_source_bundle(source.id, _zip(tmp_path, "a.zip"), via="upload", filename="a.zip")
    check_and_list(bulk.id, sync=False)
    delta = store_source_bundle(source.id, _zip(tmp_path, "b.zip", manifest_csv=DELTA, orgs_csv=NO_ORGS_CHANGED),
                                via="upload", filename="b.zip")
    check_and_list(delta.id, sync=False)
    assert [school["source_id"] for school in bundle_schools(source)] == ["s1", "s2"]


def test_a_bulk_users_file_with_a_delta_orgs_file_still_needs_the_school_in_it(app, bundle_store, tmp_path):
    """A bulk users.csv says who is on the roster: read for a School ID orgs.csv does not confirm (a typo), it would
    say that everyone has left."""
    school = make_school()
    make_csv_connection(school, sis_school_id="s9")
    manifest = DELTA.replace("file.users,delta", "file.users,bulk")
    bundle = accept_bundle(school.id, _zip(tmp_path, "b.zip", manifest_csv=manifest, orgs_csv=NO_ORGS_CHANGED),
                           via="upload", filename="b.zip", sync=False)
    assert bundle.status == "invalid" and "orgs.csv lists no org of type school" in bundle.summary


BARE_DELETIONS = {  # how SIS delta exports write a deletion: the required ids, or the row with role or orgs left out
    "ids only": "u2,tobedeleted,2026-02-01T00:00:00Z" + "," * 15,
    "blank role": user_row("u2", role="", status="tobedeleted"),
    "blank orgs": user_row("u2", org="", status="tobedeleted"),
}


@pytest.mark.parametrize("row", BARE_DELETIONS.values(), ids=BARE_DELETIONS.keys())
def test_a_delta_deletion_row_without_role_or_school_still_archives_the_person(app, bundle_store, tmp_path, row):
    """Such a row was dropped ("User u2 has no role ... leave them out of the export", or not a word) and u2 stayed
    active, although the SIS deleted them."""
    school = _school_rostered_with_u1_u2(tmp_path)
    delta = accept_bundle(school.id, _zip(tmp_path, "b.zip", manifest_csv=DELTA_USERS, users_csv=users(row)),
                          via="upload", filename="b.zip", sync=False)
    assert (delta.status, delta.warning_count) == ("valid", 0), delta.report_csv
    run = sync_bundle(school, delta)
    assert (run.status, run.archived, run.issues, run.skipped) == ("succeeded", 1, 0, 0)
    assert [(p[0], p[3]) for p in people(school)] == [("u1", "active"), ("u2", "archived")]


def test_a_bare_deletion_row_changes_only_the_school_and_roles_that_have_the_person(app, bundle_store, tmp_path):
    """Sent to every school (it names none), it archives nobody who is not rostered there in a synced role, and
    says nothing at a school that never had them."""
    school = _school_rostered_with_u1_u2(tmp_path)
    other = make_school(school.district, name="Other", slug="other")
    conn = make_csv_connection(other, archive=True, archive_threshold_percent=100)
    first = accept_bundle(other.id, _zip(tmp_path, "o.zip", users_csv=users(user_row("u9"))),
                          via="upload", filename="o.zip", sync=False)
    assert sync_bundle(other, first).status == "succeeded"
    conn.sync_students = False  # students are no longer synced here: the sync leaves them as they are
    db.session.commit()
    bare = "u9,tobedeleted,2026-02-01T00:00:00Z" + "," * 15
    for target in (school, other):
        delta = accept_bundle(target.id, _zip(tmp_path, f"{target.slug}.zip", manifest_csv=DELTA_USERS,
                                              users_csv=users(bare)), via="upload", filename="d.zip", sync=False)
        run = sync_bundle(target, delta)
        assert (run.status, run.archived, run.issues, run.skipped) == ("succeeded", 0, 0, 0)
    assert [(p[0], p[3]) for p in people(school)] == [("u1", "active"), ("u2", "active")]
    assert [(p[0], p[3]) for p in people(other)] == [("u9", "active")]
