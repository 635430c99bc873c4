"""A record the SIS deletes outright while a listing is read by offset moves every later record one place back, so
one person is never seen: they are looked up (GET users/{id}) and kept, and only the deleted person is archived.
Over real HTTP (the sandbox SIS, its delete_mid_paging fault), for a school's own sync and a district night."""
import pytest
from rq import SimpleWorker

from jobs.district_night import night_runs, start_night
from store.db import db
from store.models import SourceNight
from tests.factories import make_district, make_school, map_school
from tests.support import SETTINGS, changes, connect, directory, issues, sandbox_fixture, sandbox_source, sync

pytestmark = pytest.mark.usefixtures("no_backoff")
CAP = 25  # the sandbox's page size: the deleted record is on page 0, the one never served opens page 1
sandbox = sandbox_fixture(schools=3, students=150, seed=31, page_cap=CAP, scope="module")


@pytest.fixture
def box(sandbox):
    sandbox.clear_faults()
    sandbox.page_cap = CAP
    yield sandbox
    sandbox.clear_faults()


def active(school) -> set[str]:
    return {sid for sid, p in directory(school).items() if p.status == "active" and p.source_id}


def test_a_record_deleted_mid_paging_archives_only_that_person_and_keeps_the_one_never_served(app, box):
    school = make_school()
    connect(school, box, archive=True, archive_threshold_percent=10)
    assert sync(school).status == "succeeded"
    listing = list(box.data.user_ids("students", box.info["school_ids"][0]))
    deleted, never_served = listing[0], listing[CAP]
    box.served(reset=True)
    box.set_faults(delete_mid_paging={"path": "students", "page": 1})

    run = sync(school)
    assert box.hard_deleted[-1] == deleted  # read on page 0 before it went: seen by this run
    assert run.status == "succeeded", run.error_message
    assert run.archived == 0 and never_served in active(school)  # without the look-up it was archived as gone
    said = [i.message for i in issues(run) if i.source_id == never_served]
    assert said and said[0].startswith("1 person missing from the SIS's listings was still active at this school "
                                       f"when looked up one by one ({never_served}), so it was kept")
    # someone listed (to learn whether the SIS's 404s can be believed), the one missing person, nobody else
    assert box.served(reset=True)["lookups"] == {"users": 2}

    box.clear_faults()
    run = sync(school)  # the next sync misses the deleted person: the SIS answers 404, which confirms the leave
    assert (run.status, run.archived) == ("succeeded", 1)
    assert {c.source_id for c in changes(run, "archive")} == {deleted}
    assert box.served()["lookups"] == {"users": 2}


def test_a_sync_where_nobody_left_looks_nobody_up(app, box):
    school = make_school()
    connect(school, box, archive=True)
    assert sync(school).status == "succeeded"
    box.served(reset=True)
    assert sync(school).status == "succeeded"
    assert box.served()["lookups"] == {}


def test_a_district_night_looks_up_its_absent_people_and_keeps_the_one_never_served(app, box):
    place = make_district(timezone="UTC")
    source = sandbox_source(place, box, automatic=True, sync_time="02:00")
    schools = [make_school(place) for _ in range(3)]
    for index, school in enumerate(schools):
        map_school(school, source, box.info["school_ids"][index], **dict(SETTINGS, archive=True,
                                                                          archive_threshold_percent=10))
    assert night(app, source).status == "succeeded"
    box.served(reset=True)
    assert night(app, source).status == "succeeded"
    assert box.served()["lookups"] == {}  # a night where nobody left asks nothing more

    listing = list(box.data.user_ids("users"))
    page = next(n for n in range(1, len(listing) // CAP) if is_rostered(listing[n * CAP], schools))
    never_served = listing[page * CAP]
    box.set_faults(delete_mid_paging={"path": "users", "page": page})
    done = night(app, source)
    assert done.status == "succeeded", done.error_message
    assert box.hard_deleted  # read on page 0 before it went: seen by this night
    assert all((run.status, run.archived) == ("succeeded", 0) for run in night_runs(done.id))
    assert any(never_served in active(school) for school in schools)  # without the look-up: archived as gone
    assert box.served()["lookups"] == {"users": 2}


def night(app, source) -> SourceNight:
    made = start_night(source, trigger="cli")
    SimpleWorker([app.sync_queue], connection=app.redis).work(burst=True)
    db.session.expire_all()
    return db.session.get(SourceNight, made.id)


def is_rostered(sid: str, schools) -> bool:
    return any(sid in directory(school) for school in schools)


@pytest.mark.parametrize("answer, said", [
    ("html", 'The SIS returned a web page ("Sign in")'),
    ("first_user", "with the record of someone else. Ask the SIS vendor why users/{sourcedId} does not return"),
    ("no_orgs", "names no school (no orgs), so it cannot say whether they left"),
    ("offsite", "which is not an address saved for this connection, so the portal did not follow it"),
], ids=["a web page", "another person's record", "a record without orgs", "a redirect to another host"])
def test_a_look_up_answer_that_cannot_confirm_a_leave_keeps_the_person_never_served(app, box, answer, said):
    school = make_school()
    connect(school, box, archive=True, archive_threshold_percent=10)
    assert sync(school).status == "succeeded"
    never_served = list(box.data.user_ids("students", box.info["school_ids"][0]))[CAP]
    box.set_faults(delete_mid_paging={"path": "students", "page": 1}, lookup_answer=answer)

    run = sync(school)
    assert run.status == "succeeded", run.error_message
    assert never_served in active(school) and never_served not in {c.source_id for c in changes(run, "archive")}
    # an answer that breaks the test look-up of a listed person too keeps everyone absent, and says so
    message = next(i.message for i in issues(run) if never_served in i.message and "kept, not archived" in i.message)
    assert "the next sync asks again" in message and said in message
