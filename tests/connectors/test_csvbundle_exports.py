"""Bundles as real exports and spreadsheets write them: values the spec spells one way, written another."""
from connectors.csvbundle import open_bundle
from connectors.records import PersonRecord

from csv_helpers import bundle_files, texts, user_row, users, write_zip

EVERYONE = {"student", "teacher", "staff", "school_admin", "parent"}
USERS_12 = ("sourcedId,status,dateLastModified,enabledUser,username,userIds,givenName,familyName,middleName,"
            "identifier,email,sms,phone,agentSourcedIds,grades,password")
ROLES_12 = "sourcedId,status,dateLastModified,userSourcedId,roleType,role,beginDate,endDate,orgSourcedId,userProfileSourcedId"
MANIFEST_12 = ("propertyName,value\nmanifest.version,1.0\noneroster.version,1.2\nfile.orgs,bulk\nfile.users,bulk\n"
               "file.roles,bulk\n")


def _read(path) -> tuple[dict, list[str]]:
    """{sourcedId: record} of school s1, and the report's texts."""
    with open_bundle(path) as bundle:
        records = {r.source_id: r for page in bundle.iter_roster("s1", EVERYONE) for r in page
                   if isinstance(r, PersonRecord)}
        return records, texts(bundle.report)


def test_an_enableduser_that_is_neither_true_nor_false_is_named_and_read_as_enabled(tmp_path):
    values = ["TRUE", "True", "1", "Y", "FALSE", "0", "No", "", "N", "disabled"]
    rows = [user_row(f"u{n}", enabledUser=value) for n, value in enumerate(values)]
    records, said = _read(write_zip(tmp_path / "b.zip", bundle_files(users(*rows))))
    assert [records[f"u{n}"].enabled for n in range(len(values))] == [True] * 4 + [False] * 3 + [True] * 3
    named = [t for t in said if "enabledUser" in t]
    assert named == [
        "users.csv line 10, column enabledUser: User u8 has enabledUser 'N', which is neither true nor false; the "
        "user is read as enabled and stays on the roster. Write true or false in enabledUser (false for an account "
        "that is turned off), then send the bundle again.",
        "users.csv line 11, column enabledUser: User u9 has enabledUser 'disabled', which is neither true nor false; "
        "the user is read as enabled and stays on the roster. Write true or false in enabledUser (false for an "
        "account that is turned off), then send the bundle again."]


def _bundle_12(tmp_path, begin: str, end: str, name: str = "b.zip") -> str:
    people = users("t1,,,true,tara,,Tara,Ng,,,tara@example.org,,,,,", header=USERS_12)
    roles = f"{ROLES_12}\nr1,,,t1,primary,teacher,{begin},{end},s1,\n"
    return write_zip(tmp_path / name, bundle_files(people, manifest_csv=MANIFEST_12, roles_csv=roles))


def test_a_role_date_written_month_first_is_named_and_the_role_kept_in_effect(tmp_path):
    records, said = _read(_bundle_12(tmp_path, "08/15/2025", "06/30/2026"))
    assert records["t1"].role == "teacher"  # not read as ended: nobody leaves a school on a guessed date
    assert [t for t in said if "roles.csv" in t] == [
        "roles.csv line 2, column beginDate: The role of t1 has beginDate '08/15/2025', which is not a date in the "
        "form the spec asks (YYYY-MM-DD); the role is read as if it had no beginDate, so it counts as in effect. "
        "Write beginDate like 2026-06-30 in the SIS export, then send the bundle again.",
        "roles.csv line 2, column endDate: The role of t1 has endDate '06/30/2026', which is not a date in the form "
        "the spec asks (YYYY-MM-DD); the role is read as if it had no endDate, so it counts as in effect. Write "
        "endDate like 2026-06-30 in the SIS export, then send the bundle again."]


def test_role_dates_as_exports_write_iso_dates_are_read_without_a_word(tmp_path):
    records, said = _read(_bundle_12(tmp_path, "2025-08-15", "2030-06-30 00:00:00"))
    assert records["t1"].role == "teacher"
    assert not [t for t in said if "roles.csv" in t]
    records, said = _read(_bundle_12(tmp_path, "2025-08-15", "2026-06-30T00:00:00Z", "ended.zip"))
    assert "t1" not in records and not [t for t in said if "roles.csv" in t]  # ended: read as such


UTF16 = ('line 1: The file is UTF-16 text (Excel\'s "Unicode Text"), not UTF-8. Export the file as UTF-8 (in Excel: '
         'Save As "CSV UTF-8 (Comma delimited)"), then send the bundle again.')


def _problems(path) -> list[str]:
    with open_bundle(path) as bundle:
        return texts(bundle.validate())


def test_every_file_saved_as_unicode_text_is_named_in_one_report_not_one_per_upload(tmp_path):
    files = {name: text.replace("\n", "\r\n").encode("utf-16") for name, text in bundle_files().items()}
    files["enrollments.csv"] = "sourcedId,classSourcedId\r\n".encode("utf-16")  # not read, so not named
    assert _problems(write_zip(tmp_path / "b.zip", files)) == [
        f"manifest.csv {UTF16}", f"orgs.csv {UTF16}", f"users.csv {UTF16}"]


def test_a_users_file_that_is_not_text_is_named_beside_an_orgs_error(tmp_path):
    files = bundle_files(users(user_row("u1")).encode("utf-16"), orgs_csv="sourcedId,name\ns1,North High\n")
    found = _problems(write_zip(tmp_path / "b.zip", files))
    assert found[0].startswith("orgs.csv line 1, column type: Required column type is missing")
    assert found[1:] == [f"users.csv {UTF16}"]


def test_a_roles_org_named_in_another_case_is_read_as_that_org_without_a_warning_to_add_it(tmp_path):
    people = users("t1,,,true,tara,,Tara,Ng,,,tara@example.org,,,,,", header=USERS_12)
    roles = f"{ROLES_12}\nr1,,,t1,primary,teacher,,,S1,\nr2,,,t1,secondary,teacher,,,s9,\n"
    records, said = _read(write_zip(tmp_path / "b.zip", bundle_files(people, manifest_csv=MANIFEST_12,
                                                                     roles_csv=roles)))
    assert records["t1"].role == "teacher"
    assert [t for t in said if "roles.csv" in t] == [
        "roles.csv line 3, column orgSourcedId: orgSourcedId s9 is not an org in orgs.csv. Add the org to orgs.csv "
        "or correct the reference."]


DELTA_12 = ("propertyName,value\nmanifest.version,1.0\noneroster.version,1.2\nfile.orgs,absent\nfile.users,delta\n"
            "file.roles,delta\n")


def test_a_12_delta_names_a_role_change_it_cannot_apply_and_no_false_reference_warnings(tmp_path):
    """A delta holds what changed: a student naming an unchanged guardian, roles at orgs a delta orgs.csv leaves out
    and a role change without the user's row were each reported as broken references to add or remove."""
    people = users("s7,active,,true,sam,,Sam,Ng,,,sam@example.org,,,g1,,", header=USERS_12)
    roles = (f"{ROLES_12}\nr1,active,,s7,primary,student,,,s1,\n"
             "r2,active,,t9,primary,teacher,,,s1,\n")
    path = write_zip(tmp_path / "d.zip", bundle_files(people, manifest_csv=DELTA_12, roles_csv=roles, orgs_csv=None))
    records, said = _read(path)
    assert set(records) == {"s7"}
    assert not [t for t in said if "agentSourcedIds names" in t or "is not an org in orgs.csv" in t]
    assert ["roles.csv, column userSourcedId: roles.csv changes t9's role, but this delta's users.csv has no row for t9, so the change "
            "cannot be applied: the portal reads a person from their users.csv row. Export the user's row with the "
            "role change (or send a bulk export)."] == [t for t in said if "t9" in t]


def test_a_12_delta_user_row_whose_role_did_not_change_says_why_it_cannot_be_applied(tmp_path):
    people = users("s7,active,,true,sam,,Samuel,Ng,,,sam@example.org,,,,,", header=USERS_12)
    roles = f"{ROLES_12}\n"  # the role did not change, so a conforming delta roles.csv does not repeat it
    path = write_zip(tmp_path / "d.zip", bundle_files(people, manifest_csv=DELTA_12, roles_csv=roles, orgs_csv=None))
    records, said = _read(path)
    assert records == {}
    assert [t for t in said if "s7" in t] == [
        "users.csv line 2, column sourcedId: User s7 is in this delta's users.csv, but its roles.csv has no role for "
        "them, so the change to their row cannot be applied: the portal needs a person's role and school from "
        "roles.csv. Export their roles.csv rows with the change (or send a bulk export)."]
