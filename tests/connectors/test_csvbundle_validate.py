"""Validation that says what to fix, by file, line and column, before anything is applied."""
import pytest

from connectors.csvbundle import BundleInvalid, open_bundle

from csv_helpers import USERS_HEADER, bundle_files, texts, user_row, users, write_zip

M = "propertyName,value\nmanifest.version,1.0\noneroster.version,{v}\nfile.orgs,bulk\nfile.users,{u}\n"


def report_for(tmp_path, files):
    with open_bundle(write_zip(tmp_path / "b.zip", files)) as bundle:
        return bundle.validate()


def test_a_missing_manifest_is_named_as_the_cause_and_nothing_else(tmp_path):
    report = report_for(tmp_path, bundle_files("not,a,users\nfile\n", manifest_csv=None))
    assert texts(report) == [
        "manifest.csv: manifest.csv is missing, so the bundle does not say which OneRoster version it is or whether "
        "its files are bulk or delta; nothing else was checked. Add manifest.csv with the header propertyName,value "
        "and rows such as oneroster.version,1.1 and file.users,bulk (most SIS exports write it; check the export's "
        "settings)."]
    assert not report.applicable


@pytest.mark.parametrize("manifest,expected", [
    (M.format(v="2.0", u="bulk"), "manifest.csv line 3, column value: oneroster.version is '2.0'; this portal reads "
     "1.0, 1.1 and 1.2. Export OneRoster 1.1 or 1.2 CSV files from the SIS."),
    (M.format(v="1.1", u="full"), "manifest.csv line 5, column value: file.users is 'full'; it must be bulk, delta or "
     "absent. Set it to bulk for a full export, delta for changes only, absent if the file is not sent."),
    (M.format(v="1.1", u="absent"), "manifest.csv: The manifest says users.csv is absent, but a people sync needs it. "
     "Include users.csv in the export and set file.users to bulk or delta."),
    ("propertyName,value\nfile.users,bulk\n", "manifest.csv, column value: manifest.csv has no oneroster.version "
     "row. Add the row oneroster.version,1.1 (or 1.2, whichever the export follows)."),
])
def test_manifest_errors(tmp_path, manifest, expected):
    report = report_for(tmp_path, bundle_files(manifest_csv=manifest))
    assert expected in texts(report)
    assert not report.applicable


def test_manifest_1_0_reads_as_1_1_with_a_warning(tmp_path):
    with open_bundle(write_zip(tmp_path / "b.zip", bundle_files(manifest_csv=M.format(v="1.0", u="bulk")))) as b:
        assert b.version == "1.1" and b.validate().applicable
        assert texts(b.report) == ["manifest.csv line 3, column value: oneroster.version is 1.0; the files are read "
                                   "with the 1.1 columns. Nothing to do if the export follows OneRoster 1.1."]


@pytest.mark.parametrize("missing", ["users.csv", "orgs.csv"])
def test_the_files_a_people_sync_needs(tmp_path, missing):
    report = report_for(tmp_path, bundle_files(**{missing.replace(".", "_"): None}))
    assert texts(report) == [f"{missing}: {missing} is missing from the bundle although the manifest says "
                             f"file.{missing[:-4]} is bulk. Include {missing} in the export; a people sync needs "
                             "orgs.csv, users.csv."]


def test_header_case_and_order_are_accepted_with_warnings(tmp_path):
    header = "SourcedID,givenName,familyName,role,orgSourcedIds,status,dateLastModified,enabledUser,username,userIds," \
             "middleName,identifier,email,sms,phone,agentSourcedIds,grades,password"
    with open_bundle(write_zip(tmp_path / "b.zip", bundle_files(users("u1,Zoe,Smith,student,s1" + "," * 13,
                                                                      header=header)))) as bundle:
        items = [i for page in bundle.iter_roster("s1", {"student"}) for i in page]
        assert [(i.source_id, i.given_name, i.role) for i in items] == [("u1", "Zoe", "student")]
        assert texts(bundle.report) == [
            "users.csv line 1: Column names differ from the spec in case: SourcedID (read as sourcedId). Accepted; "
            "use the spec's spelling to avoid this warning.",
            "users.csv line 1: The columns are not in the spec's order; they are read by name. Accepted; nothing to do."]


def test_a_missing_required_column_is_an_error(tmp_path):
    header = USERS_HEADER.replace(",role,", ",")
    report = report_for(tmp_path, bundle_files(users("u1,,,true,s1,u1,,Zoe,Smith" + "," * 9, header=header)))
    assert texts(report)[0].startswith("users.csv line 1, column role: Required column role is missing from the "
                                       "header. Export the OneRoster users.csv with the header row the spec names: "
                                       "sourcedId,status,")
    assert not report.applicable


def test_a_utf8_bom_is_read_past_with_a_warning(tmp_path):
    with open_bundle(write_zip(tmp_path / "b.zip", bundle_files(b"\xef\xbb\xbf" + users(user_row("u1")).encode()))) as b:
        assert [i.source_id for p in b.iter_roster("s1", {"student"}) for i in p] == ["u1"]
        assert texts(b.report) == ["users.csv line 1: The file starts with a UTF-8 byte-order mark; it is read without "
                                   "it. Nothing to do."]


def test_windows_1252_is_named_as_such(tmp_path):
    data = users(user_row("u1"), user_row("u2", given="Zoë")).encode("cp1252")
    report = report_for(tmp_path, bundle_files(data))
    assert texts(report) == ['users.csv line 3, column givenName: The file is not UTF-8: byte 0xEB at position 28 '
                             '("udent,u2,,Zoë") reads as Windows-1252, the encoding Excel uses for "CSV (Comma delimited)". '
                             'Export the file as UTF-8 (in Excel: Save As "CSV UTF-8 (Comma delimited)"), then send the '
                             'bundle again.']
    assert not report.applicable


def test_powerschool_table_prefixes_are_read_without_the_prefix(tmp_path):
    header = ",".join(f"Users.{c}" for c in USERS_HEADER.split(","))
    with open_bundle(write_zip(tmp_path / "b.zip", bundle_files(users(user_row("u1"), header=header)))) as b:
        assert [i.source_id for p in b.iter_roster("s1", {"student"}) for i in p] == ["u1"]
        assert texts(b.report)[0] == ("users.csv line 1: Column names carry table prefixes, PowerSchool style "
                                      "(Users.sourcedId, Users.status, Users.dateLastModified, Users.enabledUser, "
                                      "Users.orgSourcedIds); read without the prefix. Turn off table names in the "
                                      "export's column headers.")


def test_a_powerschool_table_export_instead_of_users_csv_is_named(tmp_path):
    report = report_for(tmp_path, bundle_files("CC.ID,CC.SchoolID,CC.StudentID\n1,994,1001\n"))
    assert "looks like a PowerSchool table export, not the OneRoster users.csv." in texts(report)[0]
    assert texts(report)[0].startswith("users.csv line 1, column sourcedId, orgSourcedIds, role, givenName, familyName:"
                                       " Required columns sourcedId, orgSourcedIds, role, givenName, familyName are "
                                       "missing from the header. The header (CC.ID, CC.SchoolID, CC.StudentID, …)")


def test_a_quoted_value_with_a_line_break_is_one_value(tmp_path):
    data = users(user_row("u1", given="Zoe\nAnn"), user_row("u2"))
    with open_bundle(write_zip(tmp_path / "b.zip", bundle_files(data))) as b:
        items = [i for p in b.iter_roster("s1", {"student"}) for i in p]
        assert [(i.source_id, i.given_name) for i in items] == [("u1", "Zoe\nAnn"), ("u2", "Zoe")]
        assert texts(b.report) == ["users.csv line 2: A quoted value runs over lines 2-3 (a line break inside a field); "
                                   "it is read as one value. Nothing to do if intended; otherwise remove the line "
                                   "break in the SIS."]


def test_a_row_with_the_wrong_number_of_fields_is_an_error(tmp_path):
    report = report_for(tmp_path, bundle_files(users(user_row("u1"), user_row("u2") + ",Smith, Jr")))
    assert texts(report) == ["users.csv line 3: The row has 20 fields but the header has 18. Put values that contain "
                             "commas in double quotes, and give every row the header's columns."]


def test_trailing_empty_fields_are_accepted_with_a_warning(tmp_path):
    report = report_for(tmp_path, bundle_files(users(user_row("u1") + ",,")))
    assert report.applicable
    assert texts(report) == ["users.csv line 2: The row ends with 2 empty extra field(s). Accepted; remove the "
                             "trailing commas in the export."]


def test_an_unclosed_quote_is_an_error_named_at_the_row_where_it_opens(tmp_path):
    report = report_for(tmp_path, bundle_files(users(user_row("u1"), user_row("u2", given='"Zoe'))))
    assert texts(report) == ["users.csv line 3: A double quote in this row is never closed, so the rest of the file "
                             "reads as one value. Close the quote (or remove it) in the SIS's data, or fix the export "
                             "settings, then send the bundle again."]
    rows = [user_row(f"u{i}", given='"Given21' if i == 21 else f"Given{i}") for i in range(50)]
    said = texts(report_for(tmp_path, bundle_files(users(*rows))))  # 50 rows: the file ends on line 51
    assert said == ["users.csv line 23: A double quote in this row is never closed, so the rest of the file (to line "
                    "51, the end of the file) reads as one value. Close the quote (or remove it) in the SIS's data, or "
                    "fix the export settings, then send the bundle again."]


def test_references_that_point_nowhere(tmp_path):
    rows = users(user_row("u1", org="s9", agents="p1,p404"), user_row("p1", "parent", agents="u1,u404"))
    report = report_for(tmp_path, bundle_files(rows))
    assert texts(report) == [
        "users.csv line 2, column orgSourcedIds: orgSourcedIds names s9, which is not an org in orgs.csv. Add the org "
        "to orgs.csv or correct the reference.",
        "users.csv line 2, column agentSourcedIds: agentSourcedIds names p404, which is not a user in users.csv; that "
        "contact is left out. Add the parent or guardian to users.csv or correct the reference.",
        "users.csv line 3, column agentSourcedIds: agentSourcedIds names u404, which is not a user in users.csv; that "
        "contact is left out. Add the parent or guardian to users.csv or correct the reference."]
    assert report.applicable


def test_an_org_named_in_another_case_is_matched_not_reported(tmp_path):
    """Each such user was warned "names S1, which is not an org in orgs.csv", though the school's sync read them."""
    path = write_zip(tmp_path / "b.zip", bundle_files(users(user_row("u1", org="S1"), user_row("u2", org="s1,D1"))))
    with open_bundle(path) as bundle:
        assert texts(bundle.validate()) == []
        assert [r.source_id for page in bundle.iter_roster("s1", {"student"}) for r in page] == ["u1", "u2"]


def test_users_of_a_delta_orgs_file_may_name_orgs_it_does_not_list(tmp_path):
    """A delta orgs.csv holds the orgs that changed (often none): every user was warned "not an org in orgs.csv"."""
    manifest = bundle_files()["manifest.csv"].replace("file.orgs,bulk", "file.orgs,delta").replace(
        "file.users,bulk", "file.users,delta")
    files = bundle_files(users(user_row("u1", status="active"), user_row("u2", status="active", org="s1,s9")),
                         manifest_csv=manifest, orgs_csv="sourcedId,status,dateLastModified,name,type,identifier,"
                                                         "parentSourcedId\n")
    assert texts(report_for(tmp_path, files)) == []


@pytest.mark.parametrize("sent_as", ["users (1).csv", "Users_2026-02-01.csv", "export/users-1.csv"])
def test_a_needed_file_under_another_name_is_named_in_the_error(tmp_path, sent_as):
    """It said only "users.csv is missing from the bundle" beside the users file the district had sent."""
    files = bundle_files()
    files[sent_as] = files.pop("users.csv")
    (error,) = texts(report_for(tmp_path, files))
    shown = sent_as.rsplit("/", 1)[-1]
    assert f"The bundle has {shown}; if that is the users file, rename it users.csv" in error


def test_a_manifest_under_another_name_is_named_too(tmp_path):
    files = bundle_files()
    files["manifest (1).csv"] = files.pop("manifest.csv")
    (error,) = texts(report_for(tmp_path, files))
    assert "manifest.csv is missing" in error and "The bundle has manifest (1).csv" in error


def test_duplicate_sourced_ids_are_errors(tmp_path):
    report = report_for(tmp_path, bundle_files(users(user_row("u1"), user_row("u2"), user_row("u1", given="Zed"))))
    assert texts(report) == ["users.csv line 4, column sourcedId: sourcedId u1 is used by an earlier row too. Give "
                             "every user their own sourcedId; remove the repeated row."]
    assert not report.applicable


def test_a_bundle_with_errors_is_not_applicable_and_reading_it_raises(tmp_path):
    with open_bundle(write_zip(tmp_path / "b.zip", bundle_files(users(user_row("u1"), user_row("u1"))))) as bundle:
        pages = bundle.iter_roster("s1", {"student"})
        with pytest.raises(BundleInvalid) as err:
            list(pages)
    assert str(err.value).startswith("The CSV bundle was not applied: users.csv line 3, column sourcedId: sourcedId u1 "
                                     "is used by an earlier row too.")
    assert err.value.report is bundle.report


def test_repeats_of_one_problem_are_capped_and_counted(tmp_path):
    rows = [user_row(f"u{i}", org="s9") for i in range(25)]
    report = report_for(tmp_path, bundle_files(users(*rows)))
    assert len(report.all()) == 21
    assert report.all()[-1].text == ("users.csv, column orgSourcedIds: 5 more rows have the same problem as above. "
                                     "Fix the rows listed above the same way.")


def test_the_report_exports_as_csv_rows(tmp_path):
    report = report_for(tmp_path, bundle_files(users(user_row("u1"), user_row("u1"))))
    assert report.csv_rows() == [
        ("severity", "file", "line", "column", "problem", "what_to_do"),
        ("error", "users.csv", 3, "sourcedId", "sourcedId u1 is used by an earlier row too.",
         "Give every user their own sourcedId; remove the repeated row.")]
    assert report.to_csv().splitlines()[1] == ("error,users.csv,3,sourcedId,sourcedId u1 is used by an earlier row "
                                               "too.,Give every user their own sourcedId; remove the repeated row.")


def test_other_files_are_ignored_with_a_warning(tmp_path):
    report = report_for(tmp_path, bundle_files(readme_txt="hello", classes_csv="sourcedId\n"))
    assert report.applicable
    assert texts(report) == ["readme_txt: readme_txt is not a CSV file and is ignored. Nothing to do."]


def test_a_bulk_users_file_without_users_is_an_error(tmp_path):
    report = report_for(tmp_path, bundle_files(users()))
    assert texts(report) == ["users.csv: users.csv has a header but no users; as a bulk file it would say that "
                             "everyone has left the roster. Check the export's filters in the SIS, then send the "
                             "bundle again."]
    assert not report.applicable


def test_a_trailing_comma_after_the_header_is_not_a_column(tmp_path):
    report = report_for(tmp_path, bundle_files(users(user_row("u1") + ",", header=USERS_HEADER + ",")))
    assert report.applicable and texts(report) == []


def test_macos_resource_fork_copies_are_ignored(tmp_path):
    files = bundle_files(**{"__MACOSX/._users.csv": b"\x00\x05\x16\x07binary", "._orgs.csv": b"\x00\x05",
                            ".hidden.csv": b"x", "readme.txt": b"notes"})
    report = report_for(tmp_path, files)
    assert report.applicable
    assert texts(report) == [
        "__MACOSX/._users.csv: __MACOSX/._users.csv is a hidden file macOS adds when it zips a folder; it is not part "
        "of the OneRoster export and is ignored. Nothing to do.",
        "._orgs.csv: ._orgs.csv is a hidden file macOS adds when it zips a folder; it is not part of the OneRoster "
        "export and is ignored. Nothing to do.",
        ".hidden.csv: .hidden.csv is a hidden file, not part of the OneRoster export, and is ignored. Nothing to do.",
        "readme.txt: readme.txt is not a CSV file and is ignored. Nothing to do."]


def test_with_no_manifest_files_that_are_not_csv_text_are_named_too(tmp_path):
    """An upload of binary files as .csv (a workbook or a photo renamed) must not be told only to add a manifest:
    adding one would just lead to the next error, and the admin would never learn the export itself was wrong."""
    files = bundle_files(bytes(range(256)) * 8, manifest_csv=None)
    files["orgs.csv"] = b"%PDF-1.7\n" + bytes(range(256))
    report = report_for(tmp_path, files)
    assert texts(report)[1:] == [
        "orgs.csv line 1: The file is a PDF document renamed .csv, not CSV text. Export the OneRoster CSV file "
        "again; do not rename other files to .csv.",
        "users.csv line 1: The file holds binary data, not CSV text. Export the OneRoster CSV file again; do not "
        "rename other files to .csv."]
    assert texts(report)[0].startswith("manifest.csv: manifest.csv is missing")
    assert not report.applicable


@pytest.mark.parametrize("empty", ["," * 17, ",,,,,", " , ,"], ids=["header's width", "narrower", "spaces"])
def test_rows_of_only_commas_are_skipped_with_one_warning_per_file_naming_the_first_lines(tmp_path, empty):
    rows = [user_row("u1")] + [empty] * 7 + [user_row("u2"), empty]
    orgs = "sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId\ns1,,,School One,school,,\n,,,,,,\n"
    with open_bundle(write_zip(tmp_path / "b.zip", bundle_files(users(*rows), orgs_csv=orgs))) as bundle:
        report = bundle.validate()
        people = [i.source_id for page in bundle.iter_roster("s1", {"student"}) for i in page]
    assert people == ["u1", "u2"] and report.applicable
    assert texts(report) == [
        "orgs.csv: 1 row holds nothing but commas (line 3), as Excel leaves below the data; skipped. Nothing to do; "
        "to stop this warning, delete those rows in the SIS export or the spreadsheet.",
        "users.csv: 8 rows hold nothing but commas (lines 3, 4, 5, 6, 7 and more), as Excel leaves below the data; "
        "skipped. Nothing to do; to stop this warning, delete those rows in the SIS export or the spreadsheet."]
    assert report.warnings and sum(1 for kind in report.counts if kind.startswith("warning:")) == 2


def test_office_lock_files_in_the_zip_are_named_once_as_ignored(tmp_path):
    files = {**bundle_files(), "~$users.csv": b"\x05Olive", "export/~$orgs.csv": b"\x05Olive", "notes.txt": "hi"}
    with open_bundle(write_zip(tmp_path / "b.zip", files)) as bundle:
        report = bundle.validate()
        assert [i.source_id for page in bundle.iter_roster("s1", {"student"}) for i in page] == ["u1"]
    assert report.applicable
    assert texts(report) == [
        "notes.txt: notes.txt is not a CSV file and is ignored. Nothing to do.",
        "bundle: ~$users.csv, export/~$orgs.csv are lock files Excel or another Office program leaves while a file is "
        "open; not part of the OneRoster export, so ignored. Nothing to do; close the files in Excel before zipping "
        "to leave them out."]


def test_metadata_extension_columns_are_named_as_extensions_not_as_off_spec(tmp_path):
    """The spec lets exports add metadata.* columns right of its own; "not in the OneRoster spec" made a district
    think its export was broken."""
    header = USERS_HEADER + ",metadata.ps.school_number,metadata.classlink.foo,nickname"
    report = report_for(tmp_path, bundle_files(users(user_row("u1") + ",994,x,Zed", header=header)))
    said = texts(report)
    assert "users.csv line 1: Metadata extension columns are not used by the portal and are ignored: " \
           "metadata.ps.school_number, metadata.classlink.foo. Nothing to do." in said
    assert any("Columns not in the OneRoster spec are ignored: nickname." in text for text in said)
    assert report.applicable


def test_ids_excel_rounded_to_scientific_notation_say_so_instead_of_remove_the_row(tmp_path):
    rows = [user_row("1.23457E+15", given="Ada"), user_row("1.23457E+15", given="Ben")]
    report = report_for(tmp_path, bundle_files(users(*rows)))
    said = [text for text in texts(report) if "1.23457E+15" in text]
    assert said and "Excel shortened to scientific notation" in said[0] and "do not remove rows" in said[0]
    assert "remove the repeated row" not in said[0] and not report.applicable


def test_a_value_longer_than_the_portal_keeps_is_named_not_cut_silently(tmp_path):
    rows = [user_row("u1"), user_row("u2", given="A" * 300), user_row("u3", email="e" * 330 + "@x.org")]
    report = report_for(tmp_path, bundle_files(users(*rows)))
    said = texts(report)
    assert "users.csv line 3, column givenName: givenName is 300 characters long; the portal keeps the first 200. " \
           "Shorten it in the SIS if the rest matters." in said
    assert any(text.startswith("users.csv line 4, column email: email is 336 characters long") for text in said)
    assert report.applicable



def test_a_stray_quote_that_closes_rows_later_is_an_error_not_a_long_value(tmp_path):
    """"Given49 on one row and Given59" ten rows later: the rows between read as one givenName (a warning), so ten
    people were archived and one got the rest as its name."""
    rows = [user_row(f"u{i}", given='"Given4' if i == 4 else ('Given9"' if i == 9 else f"Given{i}"))
            for i in range(12)]
    report = report_for(tmp_path, bundle_files(users(*rows)))
    said = [text for text in texts(report) if "line 6" in text]
    assert said and said[0].startswith("users.csv line 6: A double quote in this row is closed only on line 11, so "
                                       "the rows between (lines 7-11) were read as part of one value.")
    assert not report.applicable
    multiline = users(user_row("u1", given='"Ann\nMarie"'), user_row("u2"))  # a line break typed in a name
    assert report_for(tmp_path, bundle_files(multiline)).applicable


def test_a_blank_org_sourced_ids_is_named_in_validation(tmp_path):
    rows = [user_row("u1"), user_row("u2", org=""), user_row("u3", org=" ")]
    said = texts(report_for(tmp_path, bundle_files(users(*rows))))
    for line in (3, 4):
        assert f"users.csv line {line}, column orgSourcedIds: User u{line - 1} has a blank orgSourcedIds (a required " \
               "field), so they belong to no school" in " ".join(said)


def test_numbers_excel_shortened_are_named_even_when_no_id_repeats(tmp_path):
    rows = [user_row("u1"), user_row("1.23457E+15"), user_row("u3", identifier="4.5E+11", phone="5.55012e+09")]
    said = texts(report_for(tmp_path, bundle_files(users(*rows))))
    for line, column, value in ((3, "sourcedId", "1.23457E+15"), (4, "identifier", "4.5E+11"),
                                (4, "phone", "5.55012e+09")):
        assert f"users.csv line {line}, column {column}: {column} {value} looks like a long number that Excel " \
               "shortened to scientific notation" in " ".join(said)
