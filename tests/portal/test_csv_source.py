"""A district source that receives OneRoster CSV (#16): saved from the Sources page, one bundle (uploaded or pushed
over SFTP) checked once and synced into each mapped school by that school's own run."""
import io
import os
from datetime import date, datetime, timezone

import asyncssh
import pytest
from rq import SimpleWorker

from jobs.bundles import accept_bundle
from jobs.connection import get_connection
from jobs.digest import set_report_choice
from jobs.schedule import run_tick
from portal.sftp import accounts
from store.db import db
from store.models import DistrictAuditEvent, RosterBundle, Source, SourceNight, SyncRun
from tests.connectors.csv_helpers import MANIFEST_11, ORGS_HEADER, user_row, users, zip_bytes
from tests.factories import (make_csv_connection, make_pause, make_district, make_district_manager, make_owner,
                             make_school, make_source, map_school)
from tests.jobs.test_report import smtp_sink  # noqa: F401 - the fixture: a real SMTP server on a loopback port
from tests.sftp_support import put_files, run
from tests.support import csrf_token, people, text

ORGS = (ORGS_HEADER + "\nd1,,,Demo District,district,,\nn1,,,North High,school,1,d1\ns1,,,South Middle,school,2,d1\n"
        "e1,,,East Elementary,school,3,d1\nw1,,,West High,school,4,d1\n")


def district_bundle(**replace) -> bytes:
    """North 3 students + 1 teacher, South 2 students, East 1 student + 1 aide, West (not mapped) 2 students; one
    teacher teaches at North and South."""
    rows = [user_row("n-s1", org="n1"), user_row("n-s2", org="n1"), user_row("n-s3", org="n1"),
            user_row("n-t1", role="teacher", org="n1"), user_row("s-s1", org="s1"), user_row("s-s2", org="s1"),
            user_row("ns-t", role="teacher", org="n1,s1"), user_row("e-s1", org="e1"),
            user_row("e-a1", role="aide", org="e1"), user_row("w-s1", org="w1"), user_row("w-s2", org="w1")]
    files = {"manifest.csv": MANIFEST_11, "orgs.csv": ORGS, "users.csv": users(*rows)}
    files.update(replace)
    return zip_bytes(files)


@pytest.fixture
def world(app, client, auth, bundle_store):
    district = make_district(name="Demo District")
    dm = make_district_manager(district)
    schools = {name: make_school(district, name=name, slug=slug) for name, slug in
               (("North High", "north"), ("South Middle", "south"), ("East Elementary", "east"))}
    auth.login(dm.email)
    return {"district": district, "dm": dm, "schools": schools, "base": f"/districts/{district.id}/sources"}


def _work(app, *queues):
    SimpleWorker([getattr(app, f"{q}_queue") for q in queues], connection=app.redis).work(burst=True)
    db.session.expire_all()


def _save_csv_source(client, world, **fields) -> Source:
    data = {"csrf_token": csrf_token(client, world["base"]), "name": "District CSV", "method": "oneroster_csv",
            "sync_time": "02:00", "csv_sync_on_receipt": "now", **fields}
    assert client.post(world["base"], data=data).status_code == 302
    return db.session.scalar(db.select(Source).where(Source.district_id == world["district"].id))


def _map_all(client, world, source):
    url = f"{world['base']}/{source.id}/mappings"
    for school, sis_id in zip(world["schools"].values(), ("n1", "s1", "e1")):
        data = {"csrf_token": csrf_token(client, world["base"]), "school_id": school.id, "sis_school_id": sis_id}
        assert client.post(url, data=data).status_code == 302


def _upload(client, world, source, content: bytes, name="district.zip"):
    url = f"{world['base']}/{source.id}/bundles"
    data = {"csrf_token": csrf_token(client, f"{world['base']}/{source.id}"), "bundle": [(io.BytesIO(content), name)]}
    return client.post(url, data=data, content_type="multipart/form-data")


def rostered(school) -> set[str]:
    """The SIS ids of the school's active rostered people."""
    return {p[0] for p in people(school) if p[0] and p[3] == "active"}


def test_the_csv_method_saves_a_csv_source_without_api_fields_and_shows_its_bundles_and_sftp(client, world):
    form = client.get(f"{world['base']}/method-form?method=oneroster_csv", headers={"HX-Request": "true"})
    assert "When a valid bundle arrives" in text(form) and "Client" not in text(form)
    source = _save_csv_source(client, world, csv_sync_on_receipt="nightly")
    assert (source.method, source.csv_sync_on_receipt, source.url, source.client_id, source.has_secret) == \
        ("csv", "nightly", "", "", False)
    page = text(client.get(f"{world['base']}/{source.id}"))
    assert "Upload a bundle" in page and "Create SFTP account" in page and "No bundles received yet" in page
    assert "Test connection" not in page
    made = client.post(f"{world['base']}/{source.id}/sftp/account",
                       data={"csrf_token": csrf_token(client, world["base"])}, headers={"HX-Request": "true"})
    assert made.status_code == 201
    assert "Copy this password now" in text(made) and f"district_source_{source.id}" in text(made)
    account = accounts.account_of(source)
    assert account.school_id is None and account.password_hash and account.password_hash not in text(made)
    assert db.session.scalar(db.select(DistrictAuditEvent.action).where(
        DistrictAuditEvent.action == "sftp_account_created")) == "sftp_account_created"


def test_an_upload_syncs_each_mapped_school_with_its_own_run_and_counts(app, client, world):
    source = _save_csv_source(client, world)
    _map_all(client, world, source)
    north, south, east = world["schools"].values()
    assert all(get_connection(s).method == "oneroster_csv" for s in (north, south, east))
    assert _upload(client, world, source, district_bundle()).status_code == 302
    _work(app, "check")
    bundle = db.session.scalar(db.select(RosterBundle).where(RosterBundle.source_id == source.id))
    assert bundle.status == "valid" and "Sync started for 3 schools" in bundle.summary
    _work(app, "sync")
    assert rostered(north) == {"n-s1", "n-s2", "n-s3", "n-t1", "ns-t"}
    assert rostered(south) == {"s-s1", "s-s2", "ns-t"}
    assert rostered(east) == {"e-s1", "e-a1"}
    runs = {run.school_id: run for run in db.session.scalars(db.select(SyncRun).where(SyncRun.bundle_id == bundle.id))}
    assert {school.id: (runs[school.id].status, runs[school.id].created) for school in (north, south, east)} == \
        {north.id: ("succeeded", 5), south.id: ("succeeded", 3), east.id: ("succeeded", 2)}
    page = text(client.get(f"{world['base']}/{source.id}"))
    assert "district.zip" in page and "West High" in page  # orgs.csv's schools are listed for mapping
    download = client.get(f"{world['base']}/{source.id}/bundles/{bundle.id}/download")
    assert download.status_code == 200 and download.data[:2] == b"PK"


def test_a_bulk_bundle_archives_who_left_each_school_only(app, client, world):
    source = _save_csv_source(client, world)
    _map_all(client, world, source)
    north, south, _ = world["schools"].values()
    for school in world["schools"].values():
        conn = get_connection(school)
        conn.archive, conn.archive_threshold_percent = True, 100.0
    db.session.commit()
    _upload(client, world, source, district_bundle())
    _work(app, "check", "sync")
    rows = [user_row(sid, org=org) for sid, org in (("n-s1", "n1"), ("n-s2", "n1"), ("n-s3", "n1"), ("s-s1", "s1"),
                                                    ("e-s1", "e1"))]
    rows += [user_row("n-t1", role="teacher", org="n1"), user_row("ns-t", role="teacher", org="n1"),
             user_row("e-a1", role="aide", org="e1")]
    _upload(client, world, source, district_bundle(**{"users.csv": users(*rows)}))
    _work(app, "check", "sync")
    assert rostered(north) == {"n-s1", "n-s2", "n-s3", "n-t1", "ns-t"}
    assert rostered(south) == {"s-s1"}  # s-s2 and ns-t left South Middle's roster; North keeps ns-t


def test_one_school_held_by_its_guard_leaves_the_other_schools_applied(app, client, world):
    source = _save_csv_source(client, world)
    _map_all(client, world, source)
    north, south, east = world["schools"].values()
    for school in (north, south, east):
        conn = get_connection(school)
        conn.archive, conn.archive_threshold_percent = True, 100.0 if school is not south else 10.0
    db.session.commit()
    _upload(client, world, source, district_bundle())
    _work(app, "check", "sync")
    rows = [user_row("n-s1", org="n1"), user_row("s-s1", org="s1"), user_row("e-s1", org="e1")]
    _upload(client, world, source, district_bundle(**{"users.csv": users(*rows)}))
    _work(app, "check", "sync")
    latest = max(db.session.scalars(db.select(RosterBundle.id).where(RosterBundle.source_id == source.id)))
    status = dict(db.session.execute(db.select(SyncRun.school_id, SyncRun.status)
                                     .where(SyncRun.bundle_id == latest)).all())
    assert status == {north.id: "succeeded", south.id: "needs_review", east.id: "succeeded"}
    assert rostered(north) == {"n-s1"} and rostered(east) == {"e-s1"}
    assert rostered(south) == {"s-s1", "s-s2", "ns-t"}  # held: nothing of South's changed


def test_at_the_nightly_time_each_mapped_school_syncs_the_newest_bundle_once(app, client, world):
    source = _save_csv_source(client, world, csv_sync_on_receipt="nightly", automatic="on", sync_time="02:00")
    _map_all(client, world, source)
    _upload(client, world, source, district_bundle())
    _work(app, "check")
    assert db.session.scalar(db.select(db.func.count(SyncRun.id))) == 0  # it waits for the night
    night = datetime(2026, 3, 2, 10, 30, tzinfo=timezone.utc)  # 2:30 AM in Los Angeles
    first, second = run_tick(night), run_tick(night)
    assert len(first) == 3 and second == []
    _work(app, "sync")
    north, south, east = world["schools"].values()
    assert (len(rostered(north)), len(rostered(south)), len(rostered(east))) == (5, 3, 2)
    assert {run.trigger for run in db.session.scalars(db.select(SyncRun))} == {"nightly"}


def test_the_nightly_time_leaves_out_a_school_switched_off_or_paused(app, client, world):
    """A mapped school keeps its own Automatic Rostering switch and seasonal pauses, as in an API source's night."""
    source = _save_csv_source(client, world, csv_sync_on_receipt="nightly", automatic="on", sync_time="02:00")
    _map_all(client, world, source)
    _upload(client, world, source, district_bundle())
    _work(app, "check")
    north, south, east = world["schools"].values()
    get_connection(north.id).automatic = False
    make_pause(south, date(2026, 3, 1), date(2026, 3, 8))
    db.session.commit()
    run_tick(datetime(2026, 3, 2, 10, 30, tzinfo=timezone.utc))  # 2:30 AM in Los Angeles
    _work(app, "sync")
    assert (rostered(north), rostered(south), len(rostered(east))) == (set(), set(), 2)
    runs = dict(db.session.execute(db.select(SyncRun.school_id, SyncRun.status)).all())
    assert north.id not in runs and runs[south.id] == "skipped" and runs[east.id] == "succeeded"


def test_a_bundle_with_a_structural_error_changes_no_school(app, client, world):
    source = _save_csv_source(client, world)
    _map_all(client, world, source)
    broken = users(user_row("n-s1", org="n1"), user_row("n-s1", org="n1"), user_row("s-s1", org="nowhere"))
    _upload(client, world, source, district_bundle(**{"users.csv": broken}))
    _work(app, "check", "sync")
    bundle = db.session.scalar(db.select(RosterBundle).where(RosterBundle.source_id == source.id))
    assert bundle.status == "invalid" and "nothing was changed" in bundle.summary
    assert db.session.scalar(db.select(db.func.count(SyncRun.id))) == 0
    assert all(rostered(school) == set() for school in world["schools"].values())
    report = client.get(f"{world['base']}/{source.id}/bundles/{bundle.id}/report.csv")
    assert report.status_code == 200 and "users.csv" in report.get_data(as_text=True)


def test_an_owner_of_a_mapped_school_cannot_reach_the_source_but_sees_it_read_only(app, client, auth, world):
    source = _save_csv_source(client, world, csv_sync_on_receipt="nightly")
    _map_all(client, world, source)
    _upload(client, world, source, district_bundle())
    _work(app, "check")
    bundle = db.session.scalar(db.select(RosterBundle).where(RosterBundle.source_id == source.id))
    north = world["schools"]["North High"]
    owner = make_owner(north, email="owner@north.example.org")
    auth.logout()
    auth.login(owner.email)
    base = f"{world['base']}/{source.id}"
    assert client.get(base).status_code == 403
    assert client.get(f"{base}/bundles/{bundle.id}/download").status_code == 403
    assert _upload(client, world, source, district_bundle()).status_code in (400, 403)
    page = text(client.get(f"/schools/{north.slug}/rostering"))
    assert "syncs from the district source <strong>District CSV</strong>" in page
    assert "OneRoster CSV, sent by the SIS for the whole district" in page and "Valid: OneRoster 1.1" in page
    assert "Upload a bundle" not in page and "Create SFTP account" not in page  # read-only: the source's
    token = csrf_token(client, f"/schools/{north.slug}/rostering")
    own = client.post(f"/schools/{north.slug}/rostering/bundles", content_type="multipart/form-data",
                      data={"csrf_token": token, "bundle": [(io.BytesIO(district_bundle()), "mine.zip")]})
    assert own.status_code == 409 and "send the bundle to the district source" in text(own)
    assert db.session.scalar(db.select(RosterBundle).where(RosterBundle.school_id == north.id)) is None
    synced = client.post(f"/schools/{north.slug}/rostering/runs", data={"csrf_token": token, "trigger": "manual"})
    assert synced.status_code in (200, 202, 302)  # Sync now reads the source's newest bundle for this school
    _work(app, "sync")
    assert rostered(north) == {"n-s1", "n-s2", "n-s3", "n-t1", "ns-t"}
    assert rostered(world["schools"]["South Middle"]) == set()  # no other school moved


def test_an_owner_of_a_mapped_school_is_not_told_the_sources_other_schools_or_their_records(app, client, auth, world):
    """The district bundle's summary goes on to name the schools it did not sync, and an invalid one's first error
    quotes a record, maybe another school's: an owner of another school gets 404 for those."""
    source = _save_csv_source(client, world)
    _map_all(client, world, source)
    orgs = ORGS_HEADER + "\nd1,,,Demo District,district,,\nn1,,,North High,school,1,d1\n"
    _upload(client, world, source, district_bundle(**{"orgs.csv": orgs, "users.csv": users(user_row("n-s1", org="n1"))}))
    _work(app, "check", "sync")
    north = world["schools"]["North High"]
    assert "South Middle" in text(client.get(f"/schools/{north.slug}/rostering"))  # the District Manager's view
    auth.logout()
    auth.login(make_owner(north, email="owner@north.example.org").email)
    page = text(client.get(f"/schools/{north.slug}/rostering"))
    assert "Valid: OneRoster 1.1, full roster (bulk)." in page
    assert "South Middle" not in page and "East Elementary" not in page

    auth.logout()
    auth.login(world["dm"].email)
    _upload(client, world, source, district_bundle(**{"users.csv": users(user_row("s-secret", org="s1", given="Zed"),
                                                                         user_row("s-secret", org="s1"))}))
    _work(app, "check", "sync")
    auth.logout()
    auth.login("owner@north.example.org")
    page = text(client.get(f"/schools/{north.slug}/rostering"))
    assert "your District Manager has the report" in page and "s-secret" not in page


def test_the_school_csv_method_still_works_beside_a_csv_source(app, client, auth, world):
    school = make_school(world["district"], name="Alone High", slug="alone")
    make_csv_connection(school, sis_school_id="w1")
    owner = make_owner(school, email="owner@alone.example.org")
    auth.logout()
    auth.login(owner.email)
    token = csrf_token(client, f"/schools/{school.slug}/rostering")
    data = {"csrf_token": token, "bundle": [(io.BytesIO(district_bundle()), "alone.zip")]}
    assert client.post(f"/schools/{school.slug}/rostering/bundles", data=data,
                       content_type="multipart/form-data").status_code == 302
    _work(app, "check")
    bundle = db.session.scalar(db.select(RosterBundle).where(RosterBundle.school_id == school.id))
    assert bundle.status == "valid"
    client.post(f"/schools/{school.slug}/rostering/bundles/{bundle.id}/runs",
                data={"csrf_token": token, "trigger": "manual"})
    _work(app, "sync")
    assert rostered(school) == {"w-s1", "w-s2"}


def test_a_bundle_pushed_over_sftp_syncs_the_sources_schools_and_accounts_stay_in_their_folders(app, client, world,
                                                                                                 drop):
    source = _save_csv_source(client, world)
    _map_all(client, world, source)
    other = Source(district_id=world["district"].id, name="Second CSV", method="csv")
    db.session.add(other)
    db.session.commit()
    account, password = accounts.create_source_account(source, None)
    other_account, other_password = accounts.create_source_account(other, None)
    (accounts.folder_of(account.username) / "left.part").write_bytes(b"first source's file")

    async def probe():
        async with drop.connect(other_account.username, other_password) as conn:
            async with conn.start_sftp_client() as sftp:
                assert "left.part" not in await sftp.listdir("/")
                for path in (f"../{account.username}/left.part", f"/../{account.username}/left.part"):
                    with pytest.raises(asyncssh.SFTPError):
                        await sftp.get(path, "/dev/null")
                with pytest.raises(asyncssh.SFTPError):
                    async with sftp.open(f"../{account.username}/evil.zip", "wb") as remote:
                        await remote.write(b"PK")

    run(probe())
    run(put_files(drop, account.username, {"district.zip": district_bundle()}, password=password))
    drop.drain()
    db.session.expire_all()
    bundle = db.session.scalar(db.select(RosterBundle).where(RosterBundle.source_id == source.id))
    assert (bundle.via, bundle.status) == ("sftp", "valid")
    assert db.session.scalar(db.select(RosterBundle).where(RosterBundle.source_id == other.id)) is None
    _work(app, "sync")
    north, south, east = world["schools"].values()
    assert (len(rostered(north)), len(rostered(south)), len(rostered(east))) == (5, 3, 2)


def test_removing_a_csv_source_deletes_its_bundles_and_sftp_folder(app, client, world):
    source = _save_csv_source(client, world)
    account, _ = accounts.create_source_account(source, None)
    _upload(client, world, source, district_bundle())
    _work(app, "check")
    bundle = db.session.scalar(db.select(RosterBundle).where(RosterBundle.source_id == source.id))
    stored, folder = bundle.stored_path, accounts.folder_of(account.username)
    assert os.path.exists(stored) and folder.is_dir()
    removed = client.post(f"{world['base']}/{source.id}/delete", data={"csrf_token": csrf_token(client, world["base"])})
    assert removed.status_code == 302
    assert db.session.get(Source, source.id) is None and not os.path.exists(stored) and not folder.exists()
    assert db.session.scalar(db.select(db.func.count(RosterBundle.id))) == 0


def test_a_synced_bundle_is_a_source_night_on_the_overview_and_in_the_digest(app, client, world,
                                                                             smtp_sink):  # noqa: F811
    set_report_choice(world["dm"], "digest")
    source = _save_csv_source(client, world)
    _map_all(client, world, source)
    _upload(client, world, source, district_bundle())
    _work(app, "check")
    night = db.session.scalar(db.select(SourceNight).where(SourceNight.source_id == source.id))
    assert (night.trigger, night.status, night.schools, night.records_read) == ("received", "planning", 3, 11)
    _work(app, "sync")
    db.session.refresh(night)
    assert night.status == "succeeded" and night.digest_status == "sent"
    overview = text(client.get(f"/districts/{world['district'].id}/rostering"))
    assert "Every school synced" in overview and "CSV bundle received" in overview
    for name in ("North High", "South Middle", "East Elementary"):
        assert name in overview
    (recipients, message), = smtp_sink.messages
    assert recipients == [world["dm"].email] and "3 of 3 schools synced" in message["Subject"]
    body = next(part.get_payload(decode=True).decode() for part in message.walk()
                if part.get_content_type() == "text/plain")
    assert all(name in body for name in ("North High", "South Middle", "East Elementary"))


def test_one_night_of_a_csv_source_at_a_time(app, client, world):
    source = _save_csv_source(client, world)
    _map_all(client, world, source)
    _upload(client, world, source, district_bundle())
    _work(app, "check")  # its night is open until the schools' runs end
    _upload(client, world, source, district_bundle(), name="second.zip")
    _work(app, "check")
    second = db.session.scalar(db.select(RosterBundle).where(RosterBundle.filename == "second.zip"))
    assert second.status == "valid" and "this bundle waits for Sync now or the nightly sync" in second.summary
    token = csrf_token(client, f"{world['base']}/{source.id}")
    refused = client.post(f"{world['base']}/{source.id}/bundles/sync", data={"csrf_token": token})
    assert refused.status_code == 409 and "A night of this source is already" in text(refused)
    assert db.session.scalar(db.select(db.func.count(SourceNight.id))) == 1
    _work(app, "sync")
    assert client.post(f"{world['base']}/{source.id}/bundles/sync", data={"csrf_token": token}).status_code == 302
    nights = db.session.scalars(db.select(SourceNight).order_by(SourceNight.id)).all()
    assert [(n.trigger, n.schools) for n in nights] == [("received", 3), ("manual", 3)]


@pytest.mark.smoke  # also on SQLite, which enforces no ON DELETE unless told to
def test_removing_a_csv_source_removes_its_bundles_and_nights_and_keeps_the_schools_history(app, client, world):
    source = _save_csv_source(client, world)
    _map_all(client, world, source)
    _upload(client, world, source, district_bundle())
    _work(app, "check", "sync")
    assert db.session.scalar(db.select(db.func.count(SourceNight.id))) == 1
    for school in world["schools"].values():
        data = {"csrf_token": csrf_token(client, world["base"]), "school_id": school.id}
        assert client.post(f"{world['base']}/{source.id}/unmap", data=data).status_code == 302
    removed = client.post(f"{world['base']}/{source.id}/delete", data={"csrf_token": csrf_token(client, world["base"])})
    assert removed.status_code == 302
    db.session.expire_all()
    assert db.session.scalar(db.select(db.func.count(RosterBundle.id))) == 0
    assert db.session.scalar(db.select(db.func.count(SourceNight.id))) == 0
    overview = client.get(f"/districts/{world['district'].id}/rostering").get_data(as_text=True)
    assert '<th scope="row">District CSV</th>' not in overview and "No SIS source is set up" in overview
    runs = db.session.scalars(db.select(SyncRun)).all()  # each school's history stays, without the bundle
    assert len(runs) == 3 and {run.status for run in runs} == {"succeeded"} and {r.bundle_id for r in runs} == {None}
    assert all(client.get(f"/schools/{run.school.slug}/rostering/runs/{run.id}").status_code == 200 for run in runs)


def test_a_mapped_school_cannot_sync_a_bundle_it_received_before_it_was_mapped(app, client, auth, world, tmp_path):
    """Its runs read the source's bundles only: an old bundle of its own would put a stale roster over the
    district's (and, with Archive on, archive whoever joined since)."""
    north = world["schools"]["North High"]
    make_csv_connection(north, sis_school_id="n1", csv_sync_on_receipt="nightly")
    stale = tmp_path / "before-mapping.zip"
    stale.write_bytes(district_bundle())
    own = accept_bundle(north.id, str(stale), via="upload", filename="before-mapping.zip")
    assert own.status == "valid"
    source = _save_csv_source(client, world, csv_sync_on_receipt="nightly")
    _map_all(client, world, source)
    owner = make_owner(north, email="owner@north.example.org")
    auth.logout()
    auth.login(owner.email)
    token = csrf_token(client, f"/schools/{north.slug}/rostering")
    answer = client.post(f"/schools/{north.slug}/rostering/bundles/{own.id}/runs",
                         data={"csrf_token": token, "trigger": "manual"}, headers={"HX-Request": "true"})
    assert answer.status_code == 409
    assert "received before the school followed its district" in text(answer) and "Sync now" in text(answer)
    _work(app, "sync")
    assert db.session.scalar(db.select(db.func.count(SyncRun.id))) == 0 and rostered(north) == set()


def test_a_bundle_sent_to_a_mapped_schools_own_account_is_refused_naming_the_district_source(app, client, world,
                                                                                           tmp_path):
    """The school's SFTP account (made before the mapping) still takes files; such a bundle was synced over the
    district's roster. Now it is refused and the report says where to send it."""
    north = world["schools"]["North High"]
    make_csv_connection(north, sis_school_id="n1", csv_sync_on_receipt="now")
    source = _save_csv_source(client, world, csv_sync_on_receipt="nightly")
    _map_all(client, world, source)
    sent = tmp_path / "pushed.zip"
    sent.write_bytes(district_bundle())
    bundle = accept_bundle(north.id, str(sent), via="sftp", filename="pushed.zip")
    assert bundle.status == "refused"
    assert "follows the district source District CSV" in bundle.summary and "district_source_" in bundle.summary
    assert "District CSV" in bundle.report_csv
    assert db.session.scalar(db.select(db.func.count(SyncRun.id))) == 0 and rostered(north) == set()


def test_a_mapped_school_cannot_be_switched_to_its_own_csv_method_by_a_form_post_or_the_cli(app, client, auth, world,
                                                                                          runner):
    """The API form refused it already; the CSV method's save did not, so a stray POST or `roster configure-csv`
    took a school mapped to an API source out of its source's nights (its runs then found no bundle)."""
    source = make_source(world["district"], name="District SIS")
    north = world["schools"]["North High"]
    map_school(north, source, "994")
    owner = make_owner(north, email="owner@north.example.org")
    auth.logout()
    auth.login(owner.email)
    token = csrf_token(client, f"/schools/{north.slug}/rostering")
    answer = client.post(f"/schools/{north.slug}/rostering/csv-connection",
                         data={"csrf_token": token, "sis_school_id": "s1", "csv_sync_on_receipt": "now"})
    assert answer.status_code == 409 and "District SIS" in text(answer) and "unmap" in text(answer)
    result = runner.invoke(args=["roster", "configure-csv", "--school", north.slug])
    assert result.exit_code == 2 and "District SIS" in result.output
    db.session.expire_all()
    conn = get_connection(north)
    assert (conn.method, conn.source_id, conn.sis_school_id) == ("oneroster", source.id, "994")


def test_a_school_unmapped_from_a_csv_source_does_not_sync_the_bundle_it_had_before_the_mapping(app, client, auth,
                                                                                              world, tmp_path):
    """Sync now read the school's own bundle from before the mapping again: a roster older than the district's,
    which archived whoever the district's bundles had added since."""
    north = world["schools"]["North High"]
    make_csv_connection(north, sis_school_id="n1", csv_sync_on_receipt="nightly", archive=True,
                        archive_threshold_percent=100)
    stale = tmp_path / "before-mapping.zip"
    stale.write_bytes(district_bundle())
    assert accept_bundle(north.id, str(stale), via="upload", filename="before-mapping.zip").status == "valid"
    source = _save_csv_source(client, world)
    _map_all(client, world, source)
    newer = district_bundle(**{"users.csv": users(*[user_row(s, org="n1") for s in ("n-s1", "n-s2", "n-s3", "n-s4")])})
    _upload(client, world, source, newer)
    _work(app, "check", "sync")
    assert rostered(north) == {"n-s1", "n-s2", "n-s3", "n-s4"}
    data = {"csrf_token": csrf_token(client, world["base"]), "school_id": north.id}
    assert client.post(f"{world['base']}/{source.id}/unmap", data=data).status_code == 302
    token = csrf_token(client, f"/schools/{north.slug}/rostering")
    answer = client.post(f"/schools/{north.slug}/rostering/runs", data={"csrf_token": token, "trigger": "manual"},
                         headers={"HX-Request": "true"})
    assert answer.status_code == 409, text(answer)
    assert "received before the school followed" in text(answer) and "new bundle" in text(answer)
    _work(app, "sync")
    assert rostered(north) == {"n-s1", "n-s2", "n-s3", "n-s4"}
