"""A OneRoster CSV bundle read into the same PersonRecord/RecordProblem pages as the API reader."""
from datetime import datetime, timezone

import pytest

from connectors.csvbundle import BundleInvalid, open_bundle
from connectors.records import KNOWN_ROLES, ROLES, PersonRecord, RecordProblem

from csv_helpers import ORGS, bundle_files, texts, user_row, users, write_dir, write_zip

ALL = set(ROLES)


def read(path, school="s1", roles=ALL):
    with open_bundle(path) as bundle:
        return [item for page in bundle.iter_roster(school, roles) for item in page], bundle


def test_a_full_row_becomes_the_api_readers_person_record(tmp_path):
    row = user_row("u1", middleName="Ann", identifier="1001", grades="09", sms="+1 555", agents="g1,g2",
                   org="s1,s2", status="tobedeleted", enabledUser="FALSE", dateLastModified="2026-01-02T03:04:05Z")
    parents = [user_row("g1", "guardian", given="Gail"), user_row("g2", "parent", given="Pat")]
    items, _ = read(write_zip(tmp_path / "b.zip", bundle_files(users(row, *parents))))
    assert items[2] == PersonRecord(
        source_id="u1", role="student", given_name="Zoe", family_name="Smith", middle_name="Ann",
        email="u1@example.org", username="u1", identifier="1001", grades=("09",), phone="+1 555",
        status="tobedeleted", enabled=False, school_ids=("s1", "s2"), agent_ids=("g1", "g2"),
        date_last_modified=datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc), sis_role="student")
    assert items[2].is_leaving


def test_parents_listed_after_their_students_still_come_first(tmp_path):
    rows = [user_row("u1", agents="p1"), user_row("t1", "teacher"), user_row("u2", agents="p2"),
            user_row("p1", "parent"), user_row("p2", "guardian")]
    items, _ = read(write_zip(tmp_path / "b.zip", bundle_files(users(*rows))))
    assert [i.source_id for i in items] == ["t1", "p1", "p2", "u1", "u2"]


def test_a_folder_of_files_reads_like_the_zip(tmp_path):
    files = bundle_files(users(user_row("u1", agents="p1"), user_row("p1", "parent")))
    assert read(write_dir(tmp_path / "d", files))[0] == read(write_zip(tmp_path / "b.zip", files))[0]


def test_only_the_schools_people_and_the_wanted_roles(tmp_path):
    rows = [user_row("u1"), user_row("u2", org="s2"), user_row("t1", "teacher", org="S1"),
            user_row("p1", "parent", org="d1"), user_row("a1", "administrator")]
    items, _ = read(write_zip(tmp_path / "b.zip", bundle_files(users(*rows))), roles={"student", "teacher", "parent"})
    assert [i.source_id for i in items] == ["u1", "t1", "p1"]


def test_oneroster_1_2_takes_role_and_orgs_from_roles_csv(tmp_path):
    header = ("sourcedId,status,dateLastModified,enabledUser,username,userIds,givenName,familyName,middleName,"
              "identifier,email,sms,phone,agentSourcedIds,grades,password,userMasterIdentifier")
    users_12 = users("u1,,,true,zoe,,Zoe,Smith,,1001,zoe@example.org,,,,09,,MASTER-1",
                     "x1,,,true,xena,,Xena,Jones,,,,,,,,,", header=header)
    roles = ("sourcedId,status,dateLastModified,userSourcedId,roleType,role,beginDate,endDate,orgSourcedId,"
             "userProfileSourcedId\nr1,,,u1,secondary,teacher,,,s2,\nr2,,,u1,primary,counselor,,,s1,\n"
             "r3,,,ghost,primary,student,,,s1,\n")
    manifest = "propertyName,value\nmanifest.version,1.0\noneroster.version,1.2\nfile.orgs,bulk\nfile.users,bulk\n" \
               "file.roles,bulk\n"
    items, bundle = read(write_zip(tmp_path / "b.zip", bundle_files(users_12, manifest_csv=manifest, roles_csv=roles)))
    assert bundle.version == "1.2"
    assert [(i.source_id, i.role, i.sis_role, i.school_ids) for i in items if isinstance(i, PersonRecord)] == [
        ("u1", "staff", "counselor", ("s2", "s1"))]
    assert "users.csv line 3, column role: User x1 has no role in roles.csv; expected one of student, teacher, " \
           "aide, proctor, counselor, administrator, principal, siteAdministrator, districtAdministrator, " \
           "systemAdministrator, parent, guardian, relative. Give the user one of these roles in the SIS, " \
           "or leave them out of the export." in texts(bundle.report)
    assert "roles.csv, column userSourcedId: roles.csv gives ghost a role, but ghost is not a user in users.csv. " \
           "Add the user to users.csv or remove the role." in texts(bundle.report)


def test_bulk_means_absent_people_left_and_delta_marks_leavers(tmp_path):
    with open_bundle(write_zip(tmp_path / "bulk.zip", bundle_files())) as bundle:
        assert (bundle.users_mode, bundle.full) == ("bulk", True)
    delta = "propertyName,value\nmanifest.version,1.0\noneroster.version,1.1\nfile.orgs,bulk\nfile.users,delta\n"
    rows = users(user_row("u1", status="tobedeleted", dateLastModified="2026-02-01T00:00:00Z"), user_row("u2"))
    items, bundle = read(write_zip(tmp_path / "delta.zip", bundle_files(rows, manifest_csv=delta)))
    assert (bundle.users_mode, bundle.full) == ("delta", False)
    assert [(i.source_id, i.is_leaving) for i in items] == [("u1", True), ("u2", False)]
    assert texts(bundle.report) == ["users.csv line 3, column status: A delta file leaves status blank; the user is "
                                    "read as active. Fill status (active or tobedeleted) in delta exports."]


def test_unusable_rows_become_record_problems_for_the_engine(tmp_path):
    rows = users(user_row("u9", "janitor"), user_row("u8", given="", family=""), user_row("u7", "janitor", org="s2"))
    items, _ = read(write_zip(tmp_path / "b.zip", bundle_files(rows)))
    assert items == [
        RecordProblem("u9", f"User u9 has 'janitor'; expected one of {KNOWN_ROLES}.", "users.csv line 2"),
        RecordProblem("u8", "User u8 (student) has no givenName or familyName.", "users.csv line 3")]


def test_a_school_missing_from_orgs_is_named_with_the_schools_there(tmp_path):
    with open_bundle(write_zip(tmp_path / "b.zip", bundle_files())) as bundle:
        with pytest.raises(BundleInvalid) as err:
            list(bundle.iter_roster("777", ALL))
    assert str(err.value) == ("The CSV bundle was not applied: orgs.csv, column sourcedId: The school 777 is not in "
                              "orgs.csv; its schools are: s1 (North High), s2 (South High). Check the school's SIS id "
                              "in the settings, or export the bundle that includes this school.")


@pytest.mark.parametrize("kind", ["district", "state", "Department"])
def test_a_school_id_naming_the_district_org_is_refused_saying_which_schools_exist(tmp_path, kind):
    """Accepted, the "school" was every user naming the district in orgSourcedIds: the whole district's people."""
    orgs = ORGS.replace(",district,", f",{kind},")
    rows = users(user_row("u1", org="s1,d1"), user_row("u2", org="s2,d1"))
    with open_bundle(write_zip(tmp_path / "b.zip", bundle_files(rows, **{"orgs.csv": orgs}))) as bundle:
        assert not bundle.lists_school("D1")
        with pytest.raises(BundleInvalid) as err:
            list(bundle.iter_roster("D1", ALL))
    assert str(err.value) == (
        "The CSV bundle was not applied: orgs.csv, column type: The School ID d1 is North District in orgs.csv, an "
        f"org of type {kind.lower()}, not a school: synced as one, it would get every user of the {kind.lower()}. "
        "The schools in orgs.csv are: s1 (North High), s2 (South High). Enter the sourcedId of the school itself (an "
        "orgs.csv row of type school) as the School ID on the Rostering page, then send the bundle again.")


def test_schools_lists_orgs_of_type_school(tmp_path):
    with open_bundle(write_zip(tmp_path / "b.zip", bundle_files())) as bundle:
        assert [(s.source_id, s.name, s.identifier) for s in bundle.schools()] == [
            ("s1", "North High", "994"), ("s2", "South High", "995")]


def test_validating_then_reading_reports_each_problem_once(tmp_path):
    with open_bundle(write_zip(tmp_path / "b.zip", bundle_files(users(user_row("u9", "janitor"))))) as bundle:
        assert bundle.validate().applicable
        assert len(bundle.report.all()) == 1
        list(bundle.iter_roster("s1", ALL))
        assert len(bundle.report.all()) == 1


def test_files_in_one_folder_inside_the_zip_and_the_school_id_in_another_case(tmp_path):
    files = {f"export-2026/{name}": content for name, content in bundle_files().items()}
    items, _ = read(write_zip(tmp_path / "b.zip", files), school="S1")
    assert [i.source_id for i in items] == ["u1"]


def test_a_deferred_student_from_a_file_lacking_optional_columns(tmp_path):
    header = "sourcedId,orgSourcedIds,role,givenName,familyName,agentSourcedIds"
    items, bundle = read(write_zip(tmp_path / "b.zip", bundle_files(users(
        "u1,s1,student,Zoe,Smith,p1", "p1,s1,parent,Pat,Smith,", header=header))))
    assert [(i.source_id, i.agent_ids, i.enabled, i.email) for i in items] == [
        ("p1", (), True, ""), ("u1", ("p1",), True, "")]
    assert texts(bundle.report)[0].startswith("users.csv line 1: Optional columns are missing and read as blank: "
                                              "status, dateLastModified, enabledUser, username,")


def test_a_deferred_student_naming_a_contact_that_never_comes_is_read_and_named(tmp_path):
    rows = [user_row("u1", agents="p1,p404"), user_row("p1", "parent")]
    items, bundle = read(write_zip(tmp_path / "b.zip", bundle_files(users(*rows))))
    assert [(i.source_id, i.agent_ids) for i in items] == [("p1", ()), ("u1", ("p1", "p404"))]
    assert texts(bundle.report) == ["users.csv line 2, column agentSourcedIds: agentSourcedIds names p404, which is "
                                    "not a user in users.csv; that contact is left out. Add the parent or guardian "
                                    "to users.csv or correct the reference."]


def test_kept_records_come_back_parents_first_and_only_for_the_settings_they_were_read_for(tmp_path):
    from connectors.csvbundle import keep_records, kept_pages
    rows = [user_row("u1", agents="p1"), user_row("x1", role="wizard"), user_row("p1", "parent")]
    with open_bundle(write_zip(tmp_path / "b.zip", bundle_files(users(*rows)))) as bundle:
        with open(tmp_path / "kept", "wb") as out:
            keep_records(bundle.iter_roster("s1", ALL, parents_first=False), out, {"roles": ["all"]})
    with open(tmp_path / "kept", "rb") as kept:
        assert kept_pages(kept, {"roles": ["student"]}) is None
        kept.seek(0)
        items = [item for page in kept_pages(kept, {"roles": ["all"]}) for item in page]
    assert [(type(i).__name__, i.source_id) for i in items] == [
        ("PersonRecord", "p1"), ("PersonRecord", "u1"), ("RecordProblem", "x1")]
    read_directly = {i.source_id: i for i in read(tmp_path / "b.zip")[0]}
    assert items == [read_directly["p1"], read_directly["u1"], read_directly["x1"]]  # as a read of the bundle builds


def test_kept_records_holding_anything_but_records_are_refused(tmp_path):
    import os
    import pickle
    from connectors.csvbundle import kept_pages
    from connectors.csvbundle.spool import start_kept, write_chunk
    with open(tmp_path / "kept", "wb") as out:
        start_kept(out, {})
        write_chunk(out, [], [(os.system, ("echo owned",))], b"o")  # problems are pickled: only RecordProblem loads
    with open(tmp_path / "kept", "rb") as kept, pytest.raises(pickle.UnpicklingError, match="posix.system"):
        list(kept_pages(kept, {}))


def test_records_kept_by_the_previous_format_are_not_read_so_the_run_reads_the_bundle(tmp_path):
    import pickle
    import struct
    from connectors.csvbundle import kept_pages
    head = pickle.dumps([(2, [("roles", ["all"])])], protocol=pickle.HIGHEST_PROTOCOL)  # format 2: pickled chunks
    (tmp_path / "kept").write_bytes(struct.pack("<cQ", b"a", len(head)) + head)
    with open(tmp_path / "kept", "rb") as kept:
        assert kept_pages(kept, {"roles": ["all"]}) is None


def test_kept_records_come_back_as_they_were_written_whatever_their_values(tmp_path):
    from datetime import timedelta
    from connectors.csvbundle import keep_records, kept_pages
    from connectors.records import RecordProblem
    utc = datetime(2026, 1, 5, 8, tzinfo=timezone.utc)
    same_instant = utc.astimezone(timezone(timedelta(hours=-5)))
    base = PersonRecord("u1", "student", "Zoë", "Smith", "", "u1@example.org", "u1", "1", ("09",), "", "active", True,
                        ("s1",), ("p1",), utc, "student")
    records = [base, base._replace(source_id="u2", agent_ids=(), date_last_modified=same_instant),
               base._replace(source_id="u3", agent_ids=("p1", "p2"), grades=(), date_last_modified=None,
                             enabled=False, given_name="Nul\x00l"),  # not from a CSV file: kept another way
               base._replace(source_id="p1", role="parent", sis_role="guardian", agent_ids=("u1",))]
    problem = RecordProblem("x1", "User x1 has 'wizard'.", "users.csv line 9")
    with open(tmp_path / "kept", "wb") as out:
        keep_records([records[:2], [], records[2:] + [problem]], out, {"roles": ["all"]})
    with open(tmp_path / "kept", "rb") as kept:
        items = [item for page in kept_pages(kept, {"roles": ["all"]}) for item in page]
    assert items == [records[3], records[0], records[1], records[2], problem]  # parents first
    assert items[2].date_last_modified.utcoffset() == timedelta(hours=-5)


def test_kept_chunks_are_handed_out_as_pages_of_the_size_asked(tmp_path):
    from connectors.csvbundle import keep_records, kept_pages
    records = [PersonRecord(f"u{i}", "parent" if i % 4 == 0 else "student", "Zoe", "Smith", "", "", "", "", (), "",
                            "active", True, ("s1",), (), None, "student") for i in range(10)]
    with open(tmp_path / "kept", "wb") as out:
        keep_records([records[i:i + 2] for i in range(0, 10, 2)], out, {})  # chunks of at most 2 records
    with open(tmp_path / "kept", "rb") as kept:
        pages = list(kept_pages(kept, {}, page_size=4))
    parents, others = [r for r in records if r.role == "parent"], [r for r in records if r.role != "parent"]
    assert [item for page in pages for item in page] == parents + others
    assert [len(page) for page in pages] == [4, 5, 1]  # whole chunks until a page holds 4: 3 parents + 1, 2 + 1 + 2, 1


def test_control_characters_in_a_rows_values_are_dropped_as_the_api_reader_drops_them(tmp_path):
    row = user_row("u1", given="Ana\x07", family="Ru\x1b[31miz", identifier="S\x01\x7f1", email="ana\x07@example.org", middleName="Ann\x1fMarie")
    records, _ = read(write_zip(tmp_path / "b.zip", bundle_files(users(row, user_row("u2")))))
    ana = next(r for r in records if r.source_id == "u1")
    assert (ana.given_name, ana.family_name, ana.identifier, ana.email, ana.middle_name) == (
        "Ana", "Ru[31miz", "S1", "ana@example.org", "Ann Marie")
    assert len(records) == 2
