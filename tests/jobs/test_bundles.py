"""Receiving a CSV bundle: kept, validated, synced now or at night, and deleted after the retention period."""
import os
from datetime import datetime, timedelta, timezone

import pytest

from jobs.bundles import accept_bundle, prune_bundles
from jobs.connection import get_connection
from jobs.schedule import dispatch_nightly
from jobs.runs import approve_run
from jobs.sync import run_sync
from store.db import db
from store.models import Person, RosterBundle, SyncIssue, SyncRun
from tests.connectors.csv_helpers import MANIFEST_11, bundle_files, user_row, users, write_dir, write_zip
from tests.factories import (make_bundle, make_csv_connection, make_district, make_owner, make_person,
                             make_school)
from tests.support import people, sync_bundle


def _queued_runs(school):
    """The school's runs that will read something (a skipped nightly run only records why none did)."""
    return db.session.scalars(db.select(SyncRun).where(SyncRun.school_id == school.id,
                                                       SyncRun.status != "skipped")).all()


def _zip(tmp_path, name="export.zip", **files):
    return write_zip(tmp_path / name, bundle_files(**files))


def test_a_valid_bundle_is_moved_into_storage_and_synced_at_once(app, bundle_store, tmp_path):
    school = make_school()
    make_csv_connection(school)
    path = _zip(tmp_path, users_csv=users(user_row("u1", given="Ada"), user_row("t1", role="teacher")))
    bundle = accept_bundle(school.id, path, via="sftp", filename="export.zip")
    assert bundle.status == "valid" and bundle.error_count == 0
    assert not (tmp_path / "export.zip").exists()
    assert bundle.stored_path.startswith(str(bundle_store / str(school.id)))
    assert bundle.users_mode == "bulk" and bundle.version == "1.1"
    (run,) = _queued_runs(school)
    assert run.trigger == "received" and run.status == "queued" and run.bundle_id == bundle.id
    assert "Sync started" in bundle.summary
    run_sync(run.id)
    db.session.expire_all()
    assert db.session.get(SyncRun, run.id).status == "succeeded"
    assert {p[1] for p in people(school)} == {"Ada", "Zoe"}
    assert db.session.get(RosterBundle, bundle.id).status == "synced"


def test_nightly_setting_leaves_the_bundle_for_the_night(app, bundle_store, tmp_path):
    school = make_school()
    make_csv_connection(school, csv_sync_on_receipt="nightly")
    bundle = accept_bundle(school.id, _zip(tmp_path), via="sftp", filename="export.zip")
    assert bundle.status == "valid" and _queued_runs(school) == []


def test_a_folder_of_csv_files_is_accepted_like_a_zip(app, bundle_store, tmp_path):
    school = make_school()
    make_csv_connection(school)
    folder = write_dir(tmp_path / "drop", bundle_files())
    bundle = accept_bundle(school.id, folder, via="sftp", filename="drop", sync=False)
    assert bundle.status == "valid" and bundle.size > 0 and _queued_runs(school) == []


def test_structural_errors_change_nothing_and_say_what_to_fix(app, bundle_store, tmp_path):
    school = make_school()
    make_csv_connection(school)
    path = _zip(tmp_path, manifest_csv=None)
    bundle = accept_bundle(school.id, path, via="upload", filename="export.zip")
    assert bundle.status == "invalid" and bundle.error_count >= 1
    assert "manifest.csv" in bundle.summary and "nothing was changed" in bundle.summary
    assert "manifest.csv" in bundle.report_csv.splitlines()[1]
    assert _queued_runs(school) == [] and db.session.scalar(db.select(db.func.count(Person.id))) == 0


def test_a_cut_off_zip_is_refused(app, bundle_store, tmp_path):
    school = make_school()
    make_csv_connection(school)
    path = tmp_path / "cut.zip"
    data = open(_zip(tmp_path), "rb").read()
    path.write_bytes(data[: len(data) // 2])
    bundle = accept_bundle(school.id, path, via="sftp", filename="cut.zip")
    assert bundle.status == "refused" and "cut off" in bundle.summary
    assert _queued_runs(school) == []


def test_a_school_missing_from_orgs_is_an_error(app, bundle_store, tmp_path):
    school = make_school()
    make_csv_connection(school, sis_school_id="s9")
    bundle = accept_bundle(school.id, _zip(tmp_path), via="upload", filename="x.zip")
    assert bundle.status == "invalid"
    assert "The School ID s9 is not among orgs.csv's schools: s1 (North High), s2 (South High)" in bundle.summary


def test_a_delta_bundle_removes_only_tobedeleted_people(app, bundle_store, tmp_path):
    school = make_school()
    make_csv_connection(school, archive=True, archive_threshold_percent=50)
    first = accept_bundle(school.id, _zip(tmp_path, users_csv=users(user_row("u1"), user_row("u2"), user_row("u3"))),
                          via="upload", filename="a.zip", sync=False)
    assert sync_bundle(school, first).status == "succeeded"
    delta = MANIFEST_11.replace("file.users,bulk", "file.users,delta")
    second = accept_bundle(school.id, _zip(tmp_path, manifest_csv=delta,
                                           users_csv=users(user_row("u2", status="tobedeleted"))),
                           via="upload", filename="b.zip", sync=False)
    assert second.users_mode == "delta"
    run = sync_bundle(school, second)
    assert run.status == "succeeded" and run.archived == 1
    assert [(p[0], p[3]) for p in people(school)] == [("u1", "active"), ("u2", "archived"), ("u3", "active")]


def test_retention_keeps_the_newest_ten_for_thirty_days(app, bundle_store, tmp_path):
    school = make_school()
    now = datetime.now(timezone.utc)
    files = []
    for i in range(12):
        f = tmp_path / f"b{i}.zip"
        f.write_bytes(b"x")
        files.append(f)
        make_bundle(school, stored_path=str(f), received_at=now - timedelta(days=i))
    old = tmp_path / "old.zip"
    old.write_bytes(b"x")
    other = make_school()
    make_bundle(other, stored_path=str(old), received_at=now - timedelta(days=31))
    assert prune_bundles(now) == 3
    kept = [f.exists() for f in files]
    assert kept == [True] * 10 + [False] * 2 and not old.exists()
    deleted = db.session.scalars(db.select(RosterBundle).where(RosterBundle.deleted_at.is_not(None))).all()
    assert len(deleted) == 3 and all("deleted after the retention period" in b.summary for b in deleted)
    assert prune_bundles(now) == 0


def test_a_bulk_bundle_archives_the_absent_under_the_guard(app, bundle_store, tmp_path):
    school = make_school()
    make_csv_connection(school, archive=True)  # guard: 10%
    roster = [user_row(f"u{i}") for i in range(10)]
    first = accept_bundle(school.id, _zip(tmp_path, users_csv=users(*roster)), via="upload", filename="a.zip",
                          sync=False)
    assert sync_bundle(school, first).status == "succeeded"
    fewer = accept_bundle(school.id, _zip(tmp_path, users_csv=users(*roster[:8])), via="upload", filename="b.zip",
                          sync=False)
    held = sync_bundle(school, fewer)
    assert held.status == "needs_review" and held.would_archive == 2
    assert all(p[3] == "active" for p in people(school))
    assert db.session.get(RosterBundle, fewer.id).status == "valid"


def test_a_held_bundle_run_cannot_be_approved_once_a_newer_sync_has_run(app, bundle_store, tmp_path):
    """Approval re-reads the held run's own bundle: after a newer, complete bundle synced, it archived the people
    that the older export had left out (within the number approved) although the SIS still has them."""
    school = make_school()
    make_csv_connection(school, archive=True)  # guard: 10%
    roster = [user_row(f"u{i}") for i in range(10)]
    first = accept_bundle(school.id, _zip(tmp_path, "a.zip", users_csv=users(*roster)), via="upload",
                          filename="a.zip", sync=False)
    assert sync_bundle(school, first).status == "succeeded"
    fewer = accept_bundle(school.id, _zip(tmp_path, "b.zip", users_csv=users(*roster[:8])), via="upload",
                          filename="b.zip", sync=False)
    held = sync_bundle(school, fewer)
    assert held.status == "needs_review"
    whole = accept_bundle(school.id, _zip(tmp_path, "c.zip", users_csv=users(*roster)), via="upload",
                          filename="c.zip", sync=False)
    later = sync_bundle(school, whole)
    assert later.status == "succeeded"
    db.session.expire_all()
    assert db.session.get(SyncRun, held.id).status == "skipped"  # the newer sync replaced it
    with pytest.raises(ValueError, match="Only a sync waiting for review can be approved"):
        approve_run(held, make_owner(school))
    assert all(p[3] == "active" for p in people(school))
    # a held run left waiting (as before this rule, or set by hand) is still refused for its older bundle
    db.session.get(SyncRun, held.id).status = "needs_review"
    db.session.commit()
    with pytest.raises(ValueError, match=f"Sync #{later.shown_number} has run since this one was held"):
        approve_run(held, make_owner(school))
    assert all(p[3] == "active" for p in people(school))


def test_the_nightly_run_reads_the_newest_valid_bundle(app, bundle_store, tmp_path):
    school = make_school(make_district(timezone="UTC"))
    make_csv_connection(school, csv_sync_on_receipt="nightly", automatic=True, sync_time="02:00")
    assert dispatch_nightly(datetime(2030, 1, 1, 3, 0, tzinfo=timezone.utc)) == []  # no bundle yet: nothing to read
    (skipped,) = db.session.scalars(db.select(SyncRun).where(SyncRun.school_id == school.id)).all()
    assert skipped.status == "skipped" and "No valid OneRoster CSV bundle has been received" in skipped.error_message
    older = accept_bundle(school.id, _zip(tmp_path, "a.zip"), via="sftp", filename="a.zip")
    newer = accept_bundle(school.id, _zip(tmp_path, "b.zip"), via="sftp", filename="b.zip")
    accept_bundle(school.id, _zip(tmp_path, "c.zip", orgs_csv=None), via="sftp", filename="c.zip")  # invalid
    assert older.status == newer.status == "valid" and _queued_runs(school) == []
    (run_id,) = dispatch_nightly(datetime(2030, 1, 2, 3, 0, tzinfo=timezone.utc))
    run = db.session.get(SyncRun, run_id)
    assert run.trigger == "nightly" and run.bundle_id == newer.id


def test_retention_waits_for_a_queued_run_and_a_run_without_its_bundle_fails_readably(app, bundle_store, tmp_path):
    from jobs.runs import create_run
    school = make_school()
    make_csv_connection(school)
    bundle = accept_bundle(school.id, _zip(tmp_path), via="upload", filename="a.zip", sync=False)
    run = create_run(school, trigger="manual", bundle_id=bundle.id)
    later = datetime.now(timezone.utc) + timedelta(days=31)
    assert prune_bundles(later) == 0  # a queued run is about to read it
    run_sync(run.id)
    db.session.expire_all()
    assert db.session.get(SyncRun, run.id).status == "succeeded"
    again = create_run(school, trigger="manual", bundle_id=bundle.id)
    get_connection(school).method = "oneroster"  # the school went back to the API before a worker took the run
    db.session.commit()
    run_sync(again.id)
    db.session.expire_all()
    failed = db.session.get(SyncRun, again.id)
    assert failed.status == "failed"
    assert failed.error_message.startswith("The CSV bundle this run was to read is no longer available")
    assert prune_bundles(later) == 1 and not os.path.exists(bundle.stored_path)


def _kept_files(bundle_store) -> list[str]:
    return sorted(p.name for p in bundle_store.rglob("*") if ".records" in p.name)


def test_a_run_syncs_from_the_records_validated_at_receipt_without_reading_the_files_again(app, bundle_store,
                                                                                            tmp_path):
    school = make_school()
    make_csv_connection(school, sync_parents=True)
    # the student comes before the guardian naming them: the guardian's contact still reaches the student
    path = _zip(tmp_path, users_csv=users(user_row("u1", given="Ada", agents="g1"),
                                          user_row("g1", role="guardian", given="Gus", family="Ward", phone="555")))
    bundle = accept_bundle(school.id, path, via="upload", filename="a.zip", sync=False)
    assert bundle.status == "valid" and len(_kept_files(bundle_store)) == 1
    with open(bundle.stored_path, "wb") as damaged:  # were the run to read the zip, it would be refused
        damaged.write(b"not a zip any more")
    run = sync_bundle(school, bundle)
    assert run.status == "succeeded" and run.created == 1
    student = db.session.scalar(db.select(Person).where(Person.school_id == school.id))
    assert (student.given_name, student.parent_name, student.parent_phone) == ("Ada", "Gus Ward", "555")


def test_a_run_with_other_settings_than_at_receipt_reads_the_bundle_itself(app, bundle_store, tmp_path):
    school = make_school()
    conn = make_csv_connection(school)
    path = _zip(tmp_path, users_csv=users(user_row("u1", given="Ada"), user_row("t1", role="teacher", given="Tom")))
    bundle = accept_bundle(school.id, path, via="upload", filename="a.zip", sync=False)
    conn.sync_teachers = False  # turned off after the bundle arrived: the kept records hold the teacher
    db.session.commit()
    run = sync_bundle(school, bundle)
    assert run.status == "succeeded" and [p[:2] for p in people(school)] == [("u1", "Ada")]


def test_a_bundle_with_errors_in_users_keeps_no_records(app, bundle_store, tmp_path):
    school = make_school()
    make_csv_connection(school)
    path = _zip(tmp_path, users_csv=users(user_row("u1"), user_row("u1", given="Twin")))
    bundle = accept_bundle(school.id, path, via="upload", filename="a.zip")
    assert bundle.status == "invalid" and "sourcedId u1 is used by an earlier row too" in bundle.summary
    assert _kept_files(bundle_store) == [] and _queued_runs(school) == []

    import gc
    assert gc.isenabled()  # receipt pauses the collector for its pass only, an invalid bundle's too


def test_retention_deletes_the_records_kept_beside_a_bundle(app, bundle_store, tmp_path):
    school = make_school()
    make_csv_connection(school)
    accept_bundle(school.id, _zip(tmp_path), via="upload", filename="a.zip", sync=False)
    assert len(_kept_files(bundle_store)) == 1
    assert prune_bundles(datetime.now(timezone.utc) + timedelta(days=31)) == 1
    assert _kept_files(bundle_store) == [] and list(bundle_store.rglob("*.zip")) == []


def test_a_bundle_run_plans_its_kept_pages_in_columns_and_still_links_and_refuses_as_before(app, bundle_store,
                                                                                            tmp_path, monkeypatch):
    """A page of plain new people goes through jobs.plan_columns; a page with someone to link, or with the email of
    an account that signs in, is planned record by record: the run creates, links and refuses as it always did."""
    from jobs import plan as plan_module
    school = make_school()
    make_csv_connection(school, sync_parents=True)
    hand_made = make_person(school, role="teacher", given_name="Hana", email="hana@example.org")
    owner = make_owner(school, email="olive@example.org", given_name="Olive")
    monkeypatch.setattr("jobs.bundle_files.PAGE_SIZE", 2)  # two people a page: clean pages beside awkward ones
    monkeypatch.setattr("jobs.bundle_files.KEPT_CHUNK", 2)
    taken = []
    real = plan_module.plan_columns
    monkeypatch.setattr(plan_module, "plan_columns", lambda *args: taken.append(real(*args)) or taken[-1])
    rows = [user_row("g1", role="guardian", given="Gus", family="Ward", phone="555", agents="u1,u2"),
            user_row("u1", given="Ada", agents="g1"), user_row("u2", given="Bo"),
            user_row("t1", role="teacher", given="Hana", email="HANA@example.org"),
            user_row("t2", role="teacher", given="Olive", email="olive@example.org"),
            user_row("t3", role="teacher", given="Tom"), user_row("t4", role="teacher", given="Tia")]
    bundle = accept_bundle(school.id, _zip(tmp_path, users_csv=users(*rows)), via="upload", filename="a.zip",
                           sync=False)
    run = sync_bundle(school, bundle)
    assert run.status == "succeeded" and (run.created, run.linked) == (4, 1)
    assert True in taken and False in taken  # some pages in columns, the awkward ones record by record
    got = {p.source_id: (p.given_name, p.parent_name, p.parent_phone) for p in db.session.scalars(
        db.select(Person).where(Person.school_id == school.id, Person.source_id.is_not(None)))}
    assert got == {"u1": ("Ada", "Gus Ward", "555"), "u2": ("Bo", "Gus Ward", "555"), "t1": ("Hana", "", ""),
                   "t3": ("Tom", "", ""), "t4": ("Tia", "", "")}
    db.session.refresh(hand_made)
    db.session.refresh(owner)
    assert hand_made.source_id == "t1" and owner.source_id is None and owner.given_name == "Olive"
    assert run.issues == 1 and db.session.scalars(db.select(SyncIssue.kind).where(SyncIssue.run_id == run.id)).all() \
        == ["sign_in_account"]


def test_a_bundle_with_the_sign_in_email_of_another_district_syncs_that_person_like_anyone(app, bundle_store,
                                                                                         tmp_path):
    # The CSV path plans against the same directory as the API: another district's account must not show in it.
    school = make_school()
    make_csv_connection(school)
    elsewhere = make_owner(make_school(make_district(name="Birch District")), email="olive@birch.example.org")
    here = make_owner(make_school(school.district), email="hana@alder.example.org")
    rows = [user_row("t1", role="teacher", given="Olive", email="OLIVE@birch.example.org"),
            user_row("t2", role="teacher", given="Hana", email="hana@alder.example.org")]
    bundle = accept_bundle(school.id, _zip(tmp_path, users_csv=users(*rows)), via="upload", filename="a.zip",
                           sync=False)
    run = sync_bundle(school, bundle)
    assert run.status == "succeeded" and (run.created, run.linked) == (1, 0)
    synced = {p.source_id: p.email for p in db.session.scalars(db.select(Person).where(Person.school_id == school.id))}
    assert synced == {"t1": "olive@birch.example.org"}  # the district's own account keeps its address, unlinked
    messages = db.session.scalars(db.select(SyncIssue.message).where(SyncIssue.run_id == run.id)).all()
    assert len(messages) == 1 and "hana@alder.example.org" in messages[0] and "birch" not in " ".join(messages)
    for account in (elsewhere, here):
        db.session.refresh(account)
        assert account.source_id is None and account.can_sign_in
