"""District nights over real HTTP (the sandbox SIS), PostgreSQL and Redis (RQ): one read of the source's SIS for
all its mapped schools, then a plan-and-apply run per school, each as its own sync would have done it."""
from datetime import datetime, timezone

import pytest
from rq import SimpleWorker

from flask import current_app
from jobs import district_night, spool
from jobs import sync as sync_job
from jobs.district_night import SourceLock, night_runs, read_night, run_night_now, start_night
from jobs.schedule import run_tick
from portal.extensions import mail
from sqlalchemy import text as sql

from store.db import db
from store.models import Person, SourceNight, SpoolRecord, SyncRun
from tests.factories import make_district, make_district_manager, make_school, map_school
from tests.support import (SETTINGS, closed_port, connect, issues, people, sandbox_fixture, sandbox_source, sync,
                           use_mail_server)

sandbox = sandbox_fixture(schools=4, students=240, seed=23, scope="module")
NIGHT = dict(SETTINGS, sync_parents=True, archive=True, automatic=True)
MAPPED = 3  # the sandbox's fourth school stays unmapped: its people are read once and go nowhere


@pytest.fixture
def district(app, sandbox):
    """Three schools of one district mapped to one source on the sandbox, Automatic Rostering on at 02:00."""
    sandbox.clear_faults()
    sandbox.page_cap = 1000
    place = make_district(timezone="UTC")
    source = sandbox_source(place, sandbox, automatic=True, sync_time="02:00")
    schools = [make_school(place) for _ in range(MAPPED)]
    for index, school in enumerate(schools):
        map_school(school, source, sandbox.info["school_ids"][index], **NIGHT)
    sandbox.served(reset=True)
    return source, schools


def directory(school) -> list[tuple]:
    """Everything a sync writes about each person of the school."""
    db.session.expire_all()
    return sorted((p.source_id, p.role, p.given_name, p.family_name, p.email, p.grade, p.status, p.parent_name,
                   p.parent_email, p.parent_phone) for p in
                  db.session.scalars(db.select(Person).where(Person.school_id == school.id)))


def work(app) -> None:
    """A worker on the sync queue until it is empty (the night's read, then every school's job)."""
    SimpleWorker([app.sync_queue], connection=app.redis).work(burst=True)


def quick(monkeypatch) -> None:
    monkeypatch.setattr(district_night, "READER_CLIENT", {"max_retries": 1})  # one retry (0.5 s), not four


@pytest.mark.parametrize("write_batch", [None, 7])  # 7: the spool's writer thread COPYs many batches during the read
def test_a_night_reads_each_listing_once_and_each_school_gets_what_its_own_sync_would(app, district, sandbox,
                                                                                      monkeypatch, write_batch):
    if write_batch:
        monkeypatch.setattr(spool, "WRITE_BATCH", write_batch)
    source, schools = district
    night = start_night(source, trigger="cli")
    work(app)
    served = sandbox.served(reset=True)
    night = db.session.get(SourceNight, night.id)
    assert night.status == "succeeded", night.error_message
    # One pass over `users` (it holds everyone in OneRoster 1.1), nothing school by school.
    everyone = len(sandbox.data.users)
    assert served["records"] == {"users": everyone} and night.records_read == everyone
    assert set(served["requests"]) == {"users"}  # its pages only (the last one empty: this SIS sends no count)
    assert db.session.scalar(db.select(db.func.count()).select_from(SpoolRecord)) == 0  # spool emptied
    runs = night_runs(night.id)
    assert [run.status for run in runs] == ["succeeded"] * MAPPED

    # The same schools, each connected alone to its SIS school in another district, synced one by one.
    alone = make_district(timezone="UTC")
    for index, (school, run) in enumerate(zip(schools, runs)):
        twin = make_school(alone)
        connect(twin, sandbox, index, **NIGHT)
        own = sync(twin)
        assert own.status == "succeeded", own.error_message
        assert directory(school) == directory(twin) and len(directory(school)) > 50
        assert {k: v for k, v in run.counts().items()} == own.counts()
    assert any(row[7] for row in directory(schools[0]))  # parent contact came through the spool too
    own_reads = sandbox.served()["records"]
    assert sum(own_reads.values()) > 2 * everyone  # what three separate syncs read instead


def test_one_schools_held_guard_or_failed_apply_leaves_the_others_applied(app, district, sandbox, monkeypatch):
    source, schools = district
    assert run_night_now(source).status == "succeeded"
    held, failing, fine = schools
    for school, threshold in ((held, 10.0), (failing, 100.0), (fine, 100.0)):
        map_school(school, source, school_sis(sandbox, school, schools), archive_threshold_percent=threshold)
    before = {school.id: directory(school) for school in schools}
    sandbox.mutate(change_fraction=0.1, remove_fraction=0.3, seed=5)
    real_apply = sync_job.apply_plan

    def apply_or_break(run_id, school_id, *args, **kwargs):
        if school_id == failing.id:
            raise RuntimeError("disk full")
        return real_apply(run_id, school_id, *args, **kwargs)

    monkeypatch.setattr(sync_job, "apply_plan", apply_or_break)
    night = start_night(source, trigger="cli")
    work(app)
    runs = {run.school_id: run for run in night_runs(night.id)}
    assert runs[held.id].status == "needs_review" and runs[held.id].would_archive > 0
    assert runs[failing.id].status == "failed" and "Nothing was changed" in runs[failing.id].error_message
    assert runs[fine.id].status == "succeeded" and runs[fine.id].archived > 0
    assert directory(held) == before[held.id] and directory(failing) == before[failing.id]
    assert directory(fine) != before[fine.id]
    assert db.session.get(SourceNight, night.id).status == "problems"


def school_sis(sandbox, school, schools) -> str:
    return sandbox.info["school_ids"][schools.index(school)]


@pytest.mark.parametrize("write_batch", [None, 7])  # 7: batches are being COPYed on the writer thread as it fails
def test_a_read_failing_mid_paging_changes_no_school(app, district, sandbox, monkeypatch, write_batch):
    source, schools = district
    if write_batch:
        monkeypatch.setattr(spool, "WRITE_BATCH", write_batch)
    assert run_night_now(source).status == "succeeded"
    sandbox.mutate(change_fraction=0.2, remove_fraction=0.2, seed=9)
    before = {school.id: directory(school) for school in schools}
    sandbox.page_cap = 100
    sandbox.set_faults(error_500={"path": "users", "page": 3, "times": 99})
    quick(monkeypatch)
    night = start_night(source, trigger="cli")
    work(app)
    night = db.session.get(SourceNight, night.id)
    assert night.status == "failed" and "no school of this night was changed" in night.error_message
    for run in night_runs(night.id):
        assert run.status == "failed" and run.archived == 0
        assert "Reading the district's SIS failed" in run.error_message
    assert {school.id: directory(school) for school in schools} == before
    assert db.session.scalar(db.select(db.func.count()).select_from(SpoolRecord)) == 0
    sandbox.clear_faults()


def test_two_dispatchers_or_workers_never_run_one_sources_night_twice(app, district, sandbox):
    source, schools = district
    now = datetime(2026, 3, 2, 3, 0, tzinfo=timezone.utc)  # after 02:00 UTC
    first, second = run_tick(now), run_tick(now)  # two schedulers ticking at once
    assert len(first) == MAPPED and second == []
    nights = db.session.scalars(db.select(SourceNight)).all()
    assert len(nights) == 1 and nights[0].local_date == "2026-03-02"
    assert len(app.sync_queue.job_ids) == 1  # one read job for the three schools
    read_night(nights[0].id)  # a second delivery of the same job finds the night already taken...
    work(app)
    assert db.session.get(SourceNight, nights[0].id).status == "succeeded"
    assert sandbox.served()["records"] == {"users": len(sandbox.data.users)}  # ...and reads nothing
    runs = db.session.scalars(db.select(SyncRun).where(SyncRun.local_date == "2026-03-02")).all()
    assert sorted(r.school_id for r in runs) == sorted(s.id for s in schools)
    assert run_tick(datetime(2026, 3, 2, 4, 0, tzinfo=timezone.utc)) == []  # done for that night


def test_a_night_while_another_of_the_source_holds_its_lock_is_skipped_and_reads_nothing(app, district, sandbox):
    source, schools = district
    other = SourceLock(current_app.redis, source.id, 999999)  # a worker still reading (or died < 10 min ago)
    assert other.acquire()
    night = run_night_now(source)
    assert night.status == "skipped" and "already running" in night.error_message
    assert all(run.status == "skipped" for run in night_runs(night.id))
    assert sandbox.served()["total_records"] == 0 and all(people(s) == [] for s in schools)


def test_sync_now_of_one_mapped_school_reads_only_that_school(app, district, sandbox):
    _source, schools = district
    assert sync(schools[0]).status == "succeeded"
    read = sandbox.served()["requests"]
    school_id = sandbox.info["school_ids"][0]
    assert {f"schools/{school_id}/students", f"schools/{school_id}/teachers", "users"} == set(read)


def test_a_manager_who_chose_the_digest_gets_one_email_for_the_night_and_no_school_report(app, district, sandbox):
    from jobs.digest import set_report_choice
    source, schools = district
    manager = make_district_manager(source.district)
    set_report_choice(manager, "digest")
    with mail.record_messages() as outbox:
        night = run_night_now(source)
    assert night.status == "succeeded" and night.digest_status == "sent"
    assert len(outbox) == 1 and outbox[0].recipients == [manager.email]
    body = outbox[0].body
    assert f"{MAPPED} of {MAPPED} schools synced" in outbox[0].subject
    for school in schools:
        assert school.name in body and f"/schools/{school.slug}/rostering/runs/" in body
    set_report_choice(manager, "each")
    with mail.record_messages() as outbox:
        run_night_now(source)
    # each school's second run: the subject says the run's number within the school (issue 17 item 16)
    assert sorted(m.subject for m in outbox) == sorted(f"Rostering: {s.name} sync #2 succeeded" for s in schools)
    assert all("you chose each school's report" in m.body for m in outbox)


def test_a_digest_that_cannot_be_built_leaves_the_night_succeeded_and_says_not_sent(app, district, monkeypatch,
                                                                                     caplog):
    from jobs import digest
    source, _schools = district
    digest.set_report_choice(make_district_manager(source.district), "digest")

    def broken(night, people):
        raise KeyError("a template variable went missing")
    monkeypatch.setattr(digest, "build_digest", broken)
    with mail.record_messages() as outbox:
        night = run_night_now(source)
    assert outbox == [] and (night.status, night.digest_status) == ("succeeded", "not_sent")
    assert f"digest for source night {night.id} could not be built" in caplog.text
    assert "internal error; the night itself is unaffected" in night.digest_error


def test_a_digest_the_mail_server_refuses_records_why_for_the_overview(app, district):
    """The manager saw only that the digest was not sent, never whether the server was down or refused the login."""
    from jobs import digest
    source, _schools = district
    digest.set_report_choice(make_district_manager(source.district), "digest")
    use_mail_server(app, closed_port())
    night = run_night_now(source)
    assert (night.status, night.digest_status) == ("succeeded", "not_sent")
    assert "connection refused" in night.digest_error and "MAIL_PORT" in night.digest_error


def test_roster_sync_district_json_prints_each_school_as_the_single_school_json_does(app, district, sandbox, runner):
    import json
    source, schools = district
    result = runner.invoke(args=["roster", "sync", "--district", source.district.name, "--json"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert [s["school"] for s in printed["schools"]] == [s.slug for s in schools]
    assert printed["nights"][0]["status"] == "succeeded"
    assert printed["nights"][0]["records_read"] == len(sandbox.data.users)
    one = runner.invoke(args=["roster", "sync", "--school", schools[0].slug, "--json"])
    single = json.loads(one.output)
    assert set(printed["schools"][0]) == set(single) | {"school"}
    assert all(s["status"] == "succeeded" and s["created"] > 0 for s in printed["schools"])


def test_roster_sync_district_while_a_night_of_the_source_is_queued_starts_no_second_one(app, district, sandbox,
                                                                                         runner):
    """As the source page's Run tonight's sync now answers 409: a second night would read the SIS again for schools
    whose runs are all taken by the first, and print a night that synced nobody."""
    source, schools = district
    queued = start_night(source, trigger="manual", enqueue=False)
    result = runner.invoke(args=["roster", "sync", "--district", source.district.name])
    assert result.exit_code == 1
    assert "A night of this source is already queued" in result.output
    assert db.session.scalar(db.select(db.func.count(SourceNight.id))) == 1
    assert sandbox.served(reset=True)["records"] == {}
    assert [run.status for run in night_runs(queued.id)] == ["queued"] * MAPPED


@pytest.mark.parametrize("args, message", [
    (["--district", "Nowhere Unified"], "No district named 'Nowhere Unified'"),
    ([], "Give either --school SLUG or --district NAME"),
    (["--district", "x", "--school", "y"], "Give either --school SLUG or --district NAME"),
])
def test_roster_sync_district_refuses_what_it_cannot_run(app, runner, args, message):
    result = runner.invoke(args=["roster", "sync", *args])
    assert result.exit_code == 2 and message in result.output


def test_a_school_whose_settings_changed_after_the_read_is_not_planned_from_it(app, district, sandbox, monkeypatch):
    source, schools = district
    assert run_night_now(source).status == "succeeded"
    changed = schools[1]
    before = directory(changed)
    real_read = district_night._read

    def read_then_change(night_id, *args):
        real_read(night_id, *args)
        # While the read was running, the owner pointed the school at another SIS school.
        map_school(changed, source, sandbox.info["school_ids"][3])

    monkeypatch.setattr(district_night, "_read", read_then_change)
    night = run_night_now(source)
    runs = {run.school_id: run for run in night_runs(night.id)}
    assert runs[changed.id].status == "failed" and "Run Sync now" in runs[changed.id].error_message
    assert directory(changed) == before  # nobody archived for being missing from a read of another school
    assert all(runs[s.id].status == "succeeded" for s in schools if s is not changed)


def test_a_night_whose_reader_died_ends_failed_at_the_next_tick_and_changes_nothing(app, district, sandbox):
    from datetime import timedelta
    source, schools = district
    night = start_night(source, trigger="cli", enqueue=False)  # its read job never runs: the worker died
    for run in night_runs(night.id):
        run.created_at -= timedelta(minutes=5)
    db.session.commit()
    run_tick()
    night = db.session.get(SourceNight, night.id)
    assert night.status == "failed" and "stopped before the read was complete" in night.error_message
    assert all(run.status == "failed" for run in night_runs(night.id))
    assert all(people(s) == [] for s in schools)


def test_broken_duplicate_leaving_and_guardian_linked_records_end_as_in_each_schools_own_sync(app, district, sandbox):
    from store.models import SyncIssue
    source, schools = district
    sandbox.set_faults(tobedeleted=6, duplicates=4, missing_names=4, unreadable_dates=3, vendor_formats=True,
                       parent_links="guardian_side")
    try:
        night = run_night_now(source)
        alone = make_district(timezone="UTC")
        twins = []
        for index in range(MAPPED):
            twin = make_school(alone)
            connect(twin, sandbox, index, **NIGHT)
            twins.append(sync(twin))
    finally:
        sandbox.clear_faults()

    def issues(run):
        return sorted((i.source_id, i.kind) for i in db.session.scalars(
            db.select(SyncIssue).where(SyncIssue.run_id == run.id, SyncIssue.source_id != "")))

    runs = night_runs(night.id)
    for school, run, own in zip(schools, runs, twins):
        assert run.status == own.status == "succeeded", (run.error_message, own.error_message)
        assert directory(school) == directory(own.school)
        assert run.counts() == own.counts()
        assert issues(run) == issues(own)
    # The sandbox scatters the broken records over the district at random, so one school may draw none of them.
    assert sum(run.issues for run in runs) > 0
    assert any(row[7] for row in directory(schools[0]))  # guardians named only from their side still count


@pytest.mark.parametrize("write_batch", [7, 10**9])  # 10**9: no batch is written during the read
def test_the_nights_records_read_climb_while_it_reads(app, district, sandbox, monkeypatch, write_batch):
    """The overview's "records read" follows the read page by page, whether the progress goes with the spool's
    batches or (no batch for a while) is written by the read itself."""
    source, schools = district
    monkeypatch.setattr(spool, "WRITE_BATCH", write_batch)
    monkeypatch.setattr(district_night, "PROGRESS_EVERY", 1)
    sandbox.page_cap = 20
    seen = []
    route = district_night.Router.file

    def watching(router, payloads, heads, records):
        with db.engine.connect() as conn:
            seen.append((router.read, conn.scalar(db.select(SourceNight.records_read)
                                                  .order_by(SourceNight.id.desc()).limit(1))))
        route(router, payloads, heads, records)

    monkeypatch.setattr(district_night.Router, "file", watching)
    night = run_night_now(source)
    assert night.status == "succeeded"
    assert len(seen) > 10
    for read, shown in seen[4:]:
        assert read - 4 * 20 <= shown <= read
    assert night.records_read == sandbox.served()["total_records"]


def test_the_spool_does_not_grow_night_after_night_where_autovacuum_is_off(app, district):
    """Each night wrote and deleted a row per person; with autovacuum off (this machine's PostgreSQL) the dead rows
    stayed, and the spool table grew by the district's size every night until the disk filled."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite reuses deleted rows' pages by itself")
    source, _schools = district
    size = "select pg_relation_size('spool_record'), pg_indexes_size('spool_record')"
    with db.engine.begin() as conn:
        conn.exec_driver_sql("alter table spool_record set (autovacuum_enabled = false)")
    sizes = []
    for _ in range(5):
        assert run_night_now(source).status == "succeeded"
        sizes.append(tuple(db.session.execute(sql(size)).one()))
        db.session.commit()
    heap, indexes = zip(*sizes)
    assert max(heap) <= heap[0] + 4 * 8192, sizes  # the rows' pages are given back (the table ends each night empty)
    assert indexes[-1] <= 3 * indexes[0], sizes  # index pages are reused; without the vacuum they grow every night


@pytest.mark.parametrize("threshold", [100.0, 10.0])  # 100: nothing else would stop it archiving the school
def test_a_school_mapped_to_a_school_id_the_sis_does_not_list_fails_and_nobody_is_archived(app, district, sandbox,
                                                                                            threshold):
    """A typo in the mapping (or a school the SIS renumbered) reads nobody for that school: its own sync stops
    there ("None of the people … are students of school 7"), and so must its share of a night."""
    from portal.sources import service
    source, schools = district
    assert run_night_now(source).status == "succeeded"
    wrong, fine = schools[0], schools[1]
    service.map_school(source, wrong, "no-such-school", None)  # as the manager's mapping form saves it
    map_school(wrong, source, "no-such-school", archive_threshold_percent=threshold)
    before = directory(wrong)
    assert sum(row[6] == "active" for row in before) > 10
    night = run_night_now(source)
    runs = {run.school_id: run for run in night_runs(night.id)}
    said = runs[wrong.id].error_message
    assert runs[wrong.id].status == "failed", said
    assert runs[wrong.id].archived == 0 and runs[wrong.id].would_archive in (0, None)
    assert "no-such-school" in said and "mapping" in said and "Nothing was changed" in said
    assert directory(wrong) == before  # nobody archived for being missing from a read that never looked for them
    assert runs[fine.id].status == "succeeded"
    assert db.session.get(SourceNight, night.id).status == "problems"


def test_a_night_whose_sis_refuses_the_delta_filter_tells_every_school_it_read_in_full(app, district, sandbox):
    """The reader fell back to a full read, but only a school's own sync said so: each school of the night read
    every record of the listing without a word on its run page or report."""
    source, schools = district
    first = start_night(source, trigger="cli")
    work(app)
    assert db.session.get(SourceNight, first.id).status == "succeeded"
    sandbox.set_faults(filter_refused=True)
    try:
        night = start_night(source)  # nightly: a delta read after the full one
        work(app)
    finally:
        sandbox.clear_faults()
    night = db.session.get(SourceNight, night.id)
    assert night.status == "succeeded", night.error_message
    assert night.since is not None and night.records_read == len(sandbox.data.users)  # asked a delta, read all
    runs = night_runs(night.id)
    assert [run.status for run in runs] == ["succeeded"] * MAPPED and not any(run.archived for run in runs)
    for run in runs:
        notes = [i.message for i in issues(run) if i.kind == "listing"]
        assert len(notes) == 1, notes
        assert notes[0].startswith("People were all read from the SIS's users listing, not only those changed "
                                   "since the last sync, because the SIS refused the delta filter (HTTP 400 on "
                                   "users with filter=dateLastModified>")
        assert "nobody was archived for being absent" in notes[0]


def test_a_school_left_out_because_its_own_sync_runs_makes_the_night_problems_not_succeeded(app, district, sandbox):
    """The night said "succeeded" (and roster sync --district exited 0) while one of its schools was not in it."""
    from tests.factories import make_run
    source, schools = district
    make_run(schools[0], trigger="manual", status="running")
    night = run_night_now(source)
    assert night.status == "problems" and night.schools == len(schools) - 1
    assert night.error_message.startswith(f"Not in this night: {schools[0].name}: ")
    assert all(run.status == "succeeded" for run in night_runs(night.id))
    assert people(schools[0]) == [] and all(people(s) for s in schools[1:])
