"""OneRoster 1.2 roles by org over real HTTP: a teacher at school A who is a principal at school B is B's school admin
(they were a teacher at every school: the primary role went everywhere), in a school's own sync and in a district
night; a role whose endDate has passed does not count at its school."""
from datetime import date, timedelta

import pytest
from rq import SimpleWorker

from connectors.sandbox.v12 import new_id
from jobs.district_night import night_runs, start_night
from portal.rostering import service
from store.db import db
from store.models import Person, SourceNight
from tests.factories import make_district, make_school, map_school
from tests.support import SETTINGS, issues, running_sandbox, sandbox_source, sandbox_values, sync

V12 = {"oneroster_version": "1.2"}


@pytest.fixture
def box():
    with running_sandbox(schools=2, students=60, seed=41, oneroster_12=True) as sandbox:
        yield sandbox


def two_school_teacher(box, sid: str = "", **principal) -> tuple[str, str]:
    """A teacher of the sandbox's first school (`sid`, else the first one), made a principal at its second too;
    (their 1.1 id, their 1.2 id)."""
    first, second = box.info["school_ids"][:2]
    sid = sid or next(s for s, u in sorted(box.data.users.items())
                      if u["role"] == "teacher" and [o["sourcedId"] for o in u["orgs"]] == [first])
    box.give_roles(sid, [{"roleType": "primary", "role": "teacher", "org": first},
                         {"roleType": "secondary", "role": "principal", "org": second, **principal}])
    return sid, new_id(sid)


def connect_12(school, box, index, **flags):
    conn = service.save_connection(school, "oneroster", {**sandbox_values(box, index), **V12}, actor=None)
    return service.save_sync_settings(conn, **{**SETTINGS, **flags})


def role_of(school, source_id) -> tuple[str, str] | None:
    db.session.expire_all()
    person = db.session.scalar(db.select(Person).filter_by(school_id=school.id, source_id=source_id))
    return (person.role, person.status) if person else None


def test_each_school_syncs_the_person_with_the_role_they_hold_there(app, box):
    _, sid = two_school_teacher(box)
    a, b = make_school(), make_school()
    connect_12(a, box, 0)
    connect_12(b, box, 1)
    for school in (a, b):
        run = sync(school)
        assert run.status == "succeeded", run.error_message
    assert role_of(a, sid) == ("teacher", "active")
    assert role_of(b, sid) == ("school_admin", "active")  # was ("teacher", "active")


def test_a_principal_role_that_ended_is_archived_at_that_school_only(app, box):
    old, sid = two_school_teacher(box)
    a, b = make_school(), make_school()
    connect_12(a, box, 0, archive=True)
    connect_12(b, box, 1, archive=True)
    assert sync(a).status == sync(b).status == "succeeded"
    assert role_of(b, sid) == ("school_admin", "active")
    two_school_teacher(box, old, endDate=(date.today() - timedelta(days=1)).isoformat())
    runs = [sync(a), sync(b)]
    assert [r.status for r in runs] == ["succeeded", "succeeded"], [r.error_message for r in runs]
    assert role_of(a, sid) == ("teacher", "active")
    assert role_of(b, sid) == ("school_admin", "archived")  # no role in effect at B any more
    assert runs[1].counts()["archived"] == 1


def district_night(app, box):
    """The sandbox's first two schools mapped to one 1.2 source, and its night run on a worker: (a, b, their runs)."""
    place = make_district(timezone="UTC")
    source = sandbox_source(place, box, automatic=True, sync_time="02:00", **V12)
    a, b = make_school(place), make_school(place)
    for index, school in enumerate((a, b)):
        map_school(school, source, box.info["school_ids"][index], **SETTINGS)
    night = start_night(source, trigger="cli")
    SimpleWorker([app.sync_queue], connection=app.redis).work(burst=True)
    night = db.session.get(SourceNight, night.id)
    assert night.status == "succeeded", night.error_message
    runs = sorted(night_runs(night.id), key=lambda r: r.school_id)
    assert [run.status for run in runs] == ["succeeded", "succeeded"]
    return a, b, runs


def test_a_district_night_gives_each_school_the_role_held_there(app, box):
    _, sid = two_school_teacher(box)
    a, b, _ = district_night(app, box)
    assert role_of(a, sid) == ("teacher", "active")
    assert role_of(b, sid) == ("school_admin", "active")



def teacher_and(box, unknown_first: bool) -> tuple[str, str]:
    """A teacher of the first school who holds the role 'janitor' (not a OneRoster role) at the second; with
    `unknown_first` the janitor role is the primary one. (their 1.2 id, the SIS school id of the janitor role)"""
    first, second = box.info["school_ids"][:2]
    sid = next(s for s, u in sorted(box.data.users.items())
               if u["role"] == "teacher" and [o["sourcedId"] for o in u["orgs"]] == [first])
    box.give_roles(sid, [{"roleType": "secondary" if unknown_first else "primary", "role": "teacher", "org": first},
                         {"roleType": "primary" if unknown_first else "secondary", "role": "janitor", "org": second}])
    return new_id(sid), second


def role_issues(run) -> list[str]:
    return [i.message for i in issues(run) if i.kind == "bad_record"]


def assert_janitor_reported(run, sid: str) -> None:
    (message,) = role_issues(run)
    assert f"({sid}) was not synced at this school: the SIS gives them the role 'janitor' here, which the portal " \
           "does not know. Their other schools are not affected. In the SIS, give them one of the roles student, " \
           "teacher, aide" in message and "at this school, then sync again." in message


@pytest.mark.parametrize("unknown_first", [False, True], ids=["secondary", "primary"])
def test_a_role_the_portal_does_not_know_at_one_school_is_that_schools_issue_and_the_others_sync(app, box,
                                                                                                   unknown_first):
    """Dropped silently at that school (secondary), or refused at every school (primary: "has 'janitor'")."""
    sid, _ = teacher_and(box, unknown_first)
    a, b = make_school(), make_school()
    connect_12(a, box, 0)
    connect_12(b, box, 1)
    runs = [sync(a), sync(b)]
    assert [r.status for r in runs] == ["succeeded", "succeeded"], [r.error_message for r in runs]
    assert role_of(a, sid) == ("teacher", "active") and role_issues(runs[0]) == []
    assert role_of(b, sid) is None
    assert_janitor_reported(runs[1], sid)


def test_a_district_night_reports_the_unknown_role_at_its_school_only(app, box):
    sid, _ = teacher_and(box, unknown_first=True)
    a, b, (run_a, run_b) = district_night(app, box)
    assert role_of(a, sid) == ("teacher", "active") and role_issues(run_a) == []
    assert role_of(b, sid) is None
    assert_janitor_reported(run_b, sid)


# \x1c separates a pair in the packed line: normalise_user makes it a space (records.clean_text), so the line holds
@pytest.mark.parametrize("org", ["school-2", "odd\x1cid"])
def test_a_spooled_person_keeps_their_roles_by_org(org):
    from connectors.packed import pack_record
    from connectors.records import normalise_user
    from jobs.spool import unpack_record

    raw = {"sourcedId": "t1", "givenName": "Tara", "familyName": "Ng", "dateLastModified": "2026-01-01T00:00:00Z",
           "roles": [{"roleType": "primary", "role": "teacher", "org": {"sourcedId": "school-1"}},
                     {"roleType": "secondary", "role": "principal", "org": {"sourcedId": org}}]}
    person = normalise_user(raw)
    assert person.org_roles == ((org.replace("\x1c", " "), "principal"),)
    payload = pack_record(raw, person)
    assert payload[0] == "P"
    assert unpack_record(payload).person == person


def test_a_1_2_csv_bundle_gives_each_school_the_role_roles_csv_gives_there(app, bundle_store, tmp_path):
    from jobs.bundles import accept_bundle
    from jobs.sync import run_sync
    from store.models import SyncRun
    from tests.connectors.csv_helpers import bundle_files, users, write_zip
    from tests.factories import make_csv_connection

    header = ("sourcedId,status,dateLastModified,enabledUser,username,userIds,givenName,familyName,middleName,"
              "identifier,email,sms,phone,agentSourcedIds,grades,password")
    roles = ("sourcedId,status,dateLastModified,userSourcedId,roleType,role,beginDate,endDate,orgSourcedId,"
             "userProfileSourcedId\nr1,,,t1,primary,teacher,,,s1,\nr2,,,t1,secondary,principal,,,s2,\n"
             "r3,,,u1,primary,student,,,s1,\nr4,,,u2,primary,student,,,s2,\n")
    manifest = ("propertyName,value\nmanifest.version,1.0\noneroster.version,1.2\nfile.orgs,bulk\nfile.users,bulk\n"
                "file.roles,bulk\n")
    files = bundle_files(users("t1,,,true,tara,,Tara,Ng,,,tara@example.org,,,,,",
                               "u1,,,true,zoe,,Zoe,Smith,,,zoe@example.org,,,,09,",
                               "u2,,,true,ann,,Ann,Lee,,,ann@example.org,,,,09,", header=header),
                         manifest_csv=manifest, roles_csv=roles)
    a, b = make_school(), make_school()
    for n, (school, org) in enumerate(((a, "s1"), (b, "s2"))):
        make_csv_connection(school, sis_school_id=org)
        accept_bundle(school.id, write_zip(tmp_path / f"export{n}.zip", files), via="upload", filename="export.zip")
        (run,) = db.session.scalars(db.select(SyncRun).where(SyncRun.school_id == school.id)).all()
        run_sync(run.id)
        db.session.expire_all()
        assert db.session.get(SyncRun, run.id).status == "succeeded"
    assert role_of(a, "t1") == ("teacher", "active")
    assert role_of(b, "t1") == ("school_admin", "active")  # was ("teacher", "active")
