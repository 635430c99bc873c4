"""OneRoster 1.2 CSV: a user with roles at two schools (roles.csv) is each school's with the role held there."""
from datetime import date, timedelta

import pytest

from connectors.csvbundle import open_bundle
from connectors.csvbundle.partition import school_pages
from connectors.records import PersonRecord, RecordProblem

from csv_helpers import bundle_files, users, write_zip

HEADER = ("sourcedId,status,dateLastModified,enabledUser,username,userIds,givenName,familyName,middleName,"
          "identifier,email,sms,phone,agentSourcedIds,grades,password")
ROLES_HEADER = "sourcedId,status,dateLastModified,userSourcedId,roleType,role,beginDate,endDate,orgSourcedId,"
MANIFEST = ("propertyName,value\nmanifest.version,1.0\noneroster.version,1.2\nfile.orgs,bulk\nfile.users,bulk\n"
            "file.roles,bulk\n")
EVERYONE = {"student", "teacher", "staff", "school_admin"}


def bundle(tmp_path, *role_rows: str) -> str:
    people = users("t1,,,true,tara,,Tara,Ng,,,tara@example.org,,,,,",
                   "u1,,,true,zoe,,Zoe,Smith,,,zoe@example.org,,,,09,", header=HEADER)
    roles = ROLES_HEADER + "userProfileSourcedId\n" + "".join(f"r{n},{row},\n" for n, row in enumerate(role_rows))
    roles += f"r{len(role_rows)},,,u1,primary,student,,,s1,\n"
    return write_zip(tmp_path / "b.zip", bundle_files(people, manifest_csv=MANIFEST, roles_csv=roles))


def roster(path, school: str) -> list[tuple]:
    with open_bundle(path) as csv:
        return [(p.source_id, p.role, p.sis_role) for page in csv.iter_roster(school, EVERYONE) for p in page
                if isinstance(p, PersonRecord)]


def test_a_teacher_at_one_school_and_principal_at_another_is_each_schools_with_that_role(tmp_path):
    path = bundle(tmp_path, ",,t1,primary,teacher,,,s1", ",,t1,secondary,principal,,,s2")
    assert roster(path, "s1") == [("t1", "teacher", "teacher"), ("u1", "student", "student")]
    assert roster(path, "s2") == [("t1", "school_admin", "principal")]  # was a teacher at s2 too


def test_a_district_bundle_files_the_user_under_each_school_with_the_role_held_there(tmp_path):
    path = bundle(tmp_path, ",,t1,secondary,principal,,,s2", ",,t1,primary,teacher,,,s1",
                  ",,t1,secondary,aide,,,s2")  # two roles at s2: the most privileged counts
    with open_bundle(path) as csv:
        got = {"s1": [], "s2": []}
        for pages in school_pages(csv, {"s1": {"teacher", "student"}, "s2": {"school_admin"}}):
            for school, items in pages.items():
                got[school] += [(p.source_id, p.role, p.sis_role) for p in items]
    assert got == {"s1": [("t1", "teacher", "teacher"), ("u1", "student", "student")],
                   "s2": [("t1", "school_admin", "principal")]}
    with open_bundle(path) as csv:  # no school syncs teachers, t1's own role: s2 still gets its principal
        admins = [(p.source_id, p.role) for pages in school_pages(csv, {"s2": {"school_admin"}}) for p in pages["s2"]]
    assert admins == [("t1", "school_admin")]


def test_an_ended_or_not_yet_begun_role_does_not_make_the_user_that_schools(tmp_path):
    past, ahead = date.today() - timedelta(days=2), date.today() + timedelta(days=30)
    path = bundle(tmp_path, ",,t1,primary,teacher,,,s1", f",,t1,secondary,principal,2025-08-01,{past},s2")
    assert roster(path, "s2") == []  # the principal role at s2 ended: t1 is not s2's any more
    assert roster(path, "s1")[0] == ("t1", "teacher", "teacher")
    path = bundle(tmp_path, f",,t1,primary,teacher,{ahead},,s1", ",,t1,secondary,aide,,,s2")
    assert roster(path, "s1") == [("u1", "student", "student")]  # starts next month
    assert roster(path, "s2") == [("t1", "staff", "aide")]


@pytest.mark.parametrize("teacher, janitor", [("primary", "secondary"), ("secondary", "primary")])
def test_a_role_the_portal_does_not_know_at_one_school_is_that_schools_issue_in_a_district_bundle(tmp_path, teacher,
                                                                                                    janitor):
    """Dropped without a word at s2 (a secondary 'janitor'), or refused at s1 too (a primary one)."""
    path = bundle(tmp_path, f",,t1,{teacher},teacher,,,s1", f",,t1,{janitor},janitor,,,s2")
    with open_bundle(path) as csv:
        got = {"s1": [], "s2": []}
        for pages in school_pages(csv, {"s1": EVERYONE, "s2": EVERYONE}):
            for school, items in pages.items():
                got[school] += items
    assert [(p.source_id, p.role) for p in got["s1"]] == [("t1", "teacher"), ("u1", "student")]
    (problem,) = got["s2"]
    assert isinstance(problem, RecordProblem) and problem.source_id == "t1"
    assert problem.message.startswith("Tara Ng (t1) was not synced at this school: the SIS gives them the role "
                                      "'janitor' here, which the portal does not know. Their other schools are not "
                                      "affected. In the SIS, give them one of the roles student, teacher")
    assert roster(path, "s1") == [("t1", "teacher", "teacher"), ("u1", "student", "student")]  # its own read too
