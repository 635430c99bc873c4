"""Bundles as careless exports and attackers send them (issue 16's "more cases of the same kind"): each ends with a
message that says what is wrong and what to do, and nothing is read from a refused bundle."""
import struct
import zipfile

import pytest

from connectors.csvbundle import BundleRefused, Limits, open_bundle

from csv_helpers import (MANIFEST_11, ORGS, ORGS_HEADER, USERS_HEADER, bundle_files, texts, user_row, users, write_dir,
                         write_zip, zip_bytes)


def refused(path) -> str:
    with pytest.raises(BundleRefused) as err:
        with open_bundle(path) as bundle:
            bundle.validate()
    return str(err.value)


def problems(path) -> list[str]:
    with open_bundle(path) as bundle:
        return texts(bundle.validate())


def _raw_zip(path, entries) -> str:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in entries:
            zf.writestr(name, content)
    return str(path)


def test_a_flood_of_entries_written_as_zip64_is_refused_too(tmp_path):
    # Past 65,535 entries the end record says 0xFFFF and the real count sits in the zip64 record: that must not
    # let 70,000 entries through (each would be listed, and reported, one by one).
    entries = list(bundle_files().items()) + [(f"x{i}.txt", b"") for i in range(70_000)]
    assert refused(_raw_zip(tmp_path / "b.zip", entries)) == (
        "The zip holds 70,003 entries, more than the 200 allowed for a OneRoster bundle. Send only the CSV files of "
        "the export.")


def test_an_end_record_that_understates_the_entries_does_not_let_them_through(tmp_path):
    path = tmp_path / "b.zip"
    _raw_zip(path, list(bundle_files().items()) + [(f"x{i}.txt", b"") for i in range(5_000)])
    data = bytearray(path.read_bytes())
    end = data.rfind(b"PK\x05\x06")
    struct.pack_into("<2H", data, end + 8, 3, 3)  # "3 entries", while the directory lists 5,003
    path.write_bytes(bytes(data))
    assert refused(path) == ("The zip holds 5,003 entries, more than the 200 allowed for a OneRoster bundle. Send "
                             "only the CSV files of the export.")


def test_a_zip_made_with_windows_backslashes_reads_its_files(tmp_path):
    # Old Windows zip tools store export\users.csv; read as a folder like export/users.csv, not "users.csv missing".
    files = bundle_files()
    path = _raw_zip(tmp_path / "b.zip", [(f"export\\{name}", content) for name, content in files.items()])
    with open_bundle(path) as bundle:
        report = bundle.validate()
        assert report.applicable, texts(report)
        people = [r for page in bundle.iter_roster("s1", {"student"}) for r in page]
    assert [p.source_id for p in people] == ["u1"]


def test_an_entry_name_that_is_not_utf8_although_the_zip_says_so_is_named(tmp_path):
    path = tmp_path / "b.zip"
    _raw_zip(path, list(bundle_files().items()) + [("zzzz.csv", "a\n")])
    data = bytearray(path.read_bytes())
    at = data.rfind(b"PK\x01\x02", 0, data.rfind(b"zzzz.csv"))  # zzzz.csv's central directory record
    data[at + 46:at + 50] = b"\xff\xfe\xff\xfe"
    struct.pack_into("<H", data, at + 8, struct.unpack_from("<H", data, at + 8)[0] | 0x800)  # "names are UTF-8"
    path.write_bytes(bytes(data))
    assert refused(path) == (
        "A file name in the zip is not valid UTF-8 although the zip says it is (byte 0xFF), so the zip tool that "
        "made it is broken. Re-create the zip with another tool, naming the files as the export did (users.csv, "
        "orgs.csv, …).")


def test_a_zip_inside_the_zip_is_named_instead_of_a_missing_manifest(tmp_path):
    path = _raw_zip(tmp_path / "b.zip", [("oneroster-export.zip", zip_bytes(bundle_files()))])
    with open_bundle(path) as bundle:
        errors = [p.text for p in bundle.validate().errors]
    assert errors == [(
        "manifest.csv: The bundle holds another zip (oneroster-export.zip) instead of the CSV files; zips inside "
        "the zip are not opened. Send the inner zip itself, or zip the CSV files (manifest.csv, orgs.csv, "
        "users.csv) directly.")]


def test_utf16_without_a_byte_order_mark_is_named_as_utf16(tmp_path):
    for encoding in ("utf-16-le", "utf-16-be"):
        files = bundle_files(users(user_row("u1")).encode(encoding))
        found = problems(write_zip(tmp_path / f"{encoding}.zip", files))
        assert found[0] == ('users.csv line 1: The file is UTF-16 text (Excel\'s "Unicode Text"), not UTF-8. Export '
                            'the file as UTF-8 (in Excel: Save As "CSV UTF-8 (Comma delimited)"), then send the '
                            'bundle again.'), encoding


def test_a_file_with_carriage_returns_only_is_read_whatever_its_size(tmp_path):
    # Excel for Mac's "CSV (Macintosh)" ends lines with \r alone; past 1 MB it was refused as "no line breaks".
    rows = [user_row(f"u{i}") for i in range(25_000)]
    rows[20_000] = user_row("u20000", org="nowhere")
    path = write_zip(tmp_path / "b.zip", bundle_files(users(*rows).replace("\n", "\r")))
    with open_bundle(path) as bundle:
        report = bundle.validate()
        assert report.applicable, texts(report)[:2]
        assert texts(report) == ["users.csv line 20002, column orgSourcedIds: orgSourcedIds names nowhere, which is "
                                 "not an org in orgs.csv. Add the org to orgs.csv or correct the reference."]
        read = sum(len(page) for page in bundle.iter_roster("s1", {"student"}))
    assert read == 24_999


def test_mixed_line_endings_read_as_one_file(tmp_path):
    body = (users().replace("\n", "\r\n") + user_row("u1") + "\n" + user_row("u2") + "\r" + user_row("u3") + "\r\n")
    with open_bundle(write_zip(tmp_path / "b.zip", bundle_files(body))) as bundle:
        assert bundle.validate().applicable
        assert [r.source_id for page in bundle.iter_roster("s1", {"student"}) for r in page] == ["u1", "u2", "u3"]


def test_nul_bytes_header_only_and_an_over_long_field_each_say_what_to_do(tmp_path):
    nul = problems(write_zip(tmp_path / "nul.zip", bundle_files(users(user_row("u1", given="Z\x00e")))))
    assert nul == ["users.csv line 2: The file holds binary data (NUL bytes), not CSV text. Export the OneRoster CSV "
                   "file again; do not rename other files to .csv."]
    empty = problems(write_zip(tmp_path / "empty.zip", bundle_files(users())))
    assert empty == ["users.csv: users.csv has a header but no users; as a bulk file it would say that everyone has "
                     "left the roster. Check the export's filters in the SIS, then send the bundle again."]
    long_field = problems(write_zip(tmp_path / "long.zip", bundle_files(users(user_row("u1", given="A" * 200_000)))))
    assert long_field[0].startswith("users.csv line 2: A value is longer than 131,072 characters")


def test_an_orgs_file_without_orgs_is_an_error_of_its_own(tmp_path):
    found = problems(write_zip(tmp_path / "b.zip", bundle_files(orgs_csv=ORGS_HEADER + "\n")))
    assert found[0] == ("orgs.csv: orgs.csv has a header but no orgs, so no school can be found in it. Check the "
                        "export's filters in the SIS, then send the bundle again.")


def test_a_name_with_a_nul_byte_is_read_under_the_name_before_it(tmp_path):
    # zipfile cuts a name at NUL, so "users.csv\0.exe" is users.csv for every reader here: nothing else is opened.
    entries = [("manifest.csv", MANIFEST_11), ("orgs.csv", ORGS), ("users.csv\x00.exe", users(user_row("u1")))]
    with open_bundle(_raw_zip(tmp_path / "b.zip", entries)) as bundle:
        assert bundle.validate().applicable and sorted(bundle.files.members) == ["manifest.csv", "orgs.csv",
                                                                                 "users.csv"]


def test_a_table_of_contents_that_points_at_the_wrong_entry_is_refused_as_damaged(tmp_path):
    whole = zip_bytes(bundle_files())
    renamed = bytearray(whole)
    at = renamed.find(b"users.csv")  # the first copy is the entry's own header; the table of contents keeps its name
    renamed[at:at + 9] = b"usurp.csv"
    misplaced = bytearray(whole)
    entry = misplaced.rfind(b"PK\x01\x02", 0, misplaced.rfind(b"users.csv"))
    struct.pack_into("<L", misplaced, entry + 42, 3)  # users.csv's header "starts" 3 bytes into the file
    for name, data in (("renamed.zip", renamed), ("misplaced.zip", misplaced)):
        (tmp_path / name).write_bytes(bytes(data))
        message = refused(tmp_path / name)
        assert message.startswith("users.csv in the zip is damaged (") and message.endswith(
            "Send the whole file again; if it keeps failing, export the bundle from the SIS again."), message


def test_an_excel_workbook_renamed_zip_is_named_as_such(tmp_path):
    entries = [("[Content_Types].xml", "<Types/>"), ("xl/workbook.xml", "<workbook/>"),
               ("xl/worksheets/sheet1.xml", "<worksheet/>")]
    with open_bundle(_raw_zip(tmp_path / "roster.zip", entries)) as bundle:
        errors = [p.text for p in bundle.validate().errors]
    assert errors == ["manifest.csv: The file is an Excel workbook (.xlsx) renamed .zip, not a zip of CSV files. "
                      "Export the OneRoster CSV files from the SIS (manifest.csv, orgs.csv, users.csv) and zip them, "
                      "or upload the CSV files themselves."]


@pytest.mark.parametrize("rows, named", [
    ("file.users,delta\nfile.users,bulk\n", "file.users"),  # read as bulk, the later row: everyone absent leaves
    ("file.users,bulk\nFILE.USERS,delta\n", "file.users"),
    ("oneroster.version,1.2\nfile.users,bulk\n", "oneroster.version"),
])
def test_a_manifest_that_says_two_things_about_one_property_is_an_error(tmp_path, rows, named):
    """The last row used to win silently, so a delta export could be read as bulk (and archive who it left out)."""
    manifest = "propertyName,value\nmanifest.version,1.0\noneroster.version,1.1\nfile.orgs,bulk\n" + rows
    with open_bundle(write_zip(tmp_path / "b.zip", bundle_files(manifest_csv=manifest))) as bundle:
        report = bundle.validate()
        assert not report.applicable
        (error,) = report.errors
    assert (error.file, error.column) == ("manifest.csv", "value") and error.line in (5, 6)
    assert f"{named} twice" in error.problem and "Keep one row" in error.what_to_do


def test_a_manifest_row_repeated_with_the_same_value_is_only_a_warning(tmp_path):
    manifest = MANIFEST_11 + "file.users,bulk\n"
    with open_bundle(write_zip(tmp_path / "b.zip", bundle_files(manifest_csv=manifest))) as bundle:
        report = bundle.validate()
        assert report.applicable and bundle.full
    assert any("file.users twice" in p.problem and p.line == 6 for p in report.warnings)


@pytest.mark.parametrize("separator, named", [(";", "semicolons"), ("\t", "tabs")])
def test_a_users_file_separated_by_semicolons_or_tabs_gets_one_error_that_names_the_separator(tmp_path, separator,
                                                                                           named):
    """Excel in many European locales saves "CSV" with semicolons. One error saying so, not a list of missing
    columns followed by "users.csv has a header but no users ... everyone has left the roster"."""
    text = users(user_row("u1"), user_row("u2")).replace(",", separator)
    with open_bundle(write_zip(tmp_path / "b.zip", bundle_files(users_csv=text))) as bundle:
        report = bundle.validate()
    (error,) = report.errors
    assert (error.file, error.line) == ("users.csv", 1)
    assert f"separated by {named}" in error.problem and "comma" in error.what_to_do
    assert not any("no users" in p.problem for p in report.all())




def test_a_users_file_whose_first_user_line_is_endless_gets_one_error_not_also_no_users(tmp_path):
    """Reading stopped at line 2 (a 2 GB line, here just over the 1 MB limit), so the file was never found empty:
    "users.csv has a header but no users ... everyone has left the roster" only misled."""
    content = users().encode() + b"u1," + b"x" * (1024 * 1024 + 10) + b"\n" + user_row("u2").encode() + b"\n"
    with open_bundle(write_dir(tmp_path / "drop", bundle_files(users_csv=content))) as bundle:
        (error,) = bundle.validate().errors
    assert (error.file, error.line) == ("users.csv", 2) and "longer than 1,048,576 bytes" in error.problem


def test_a_file_just_over_the_size_limit_says_by_how_much_not_2048_mb_over_2048_mb(tmp_path):
    files = bundle_files(users_csv=users(user_row("u1")).encode() + b"x" * (2 * 1024 * 1024))
    with pytest.raises(BundleRefused) as err:
        open_bundle(write_dir(tmp_path / "drop", files), Limits(max_file_bytes=2 * 1024 * 1024))
    message = str(err.value)
    assert "2 MB, more than the 2 MB" not in message
    assert f"{len(files['users.csv']):,} bytes, more than the 2,097,152 bytes (2 MB) allowed" in message


def test_a_windows_1252_value_is_named_by_its_column_too(tmp_path):
    """Each problem names file, line and column: the encoding error said only the line and the byte's position."""
    rows = [user_row("u1"), user_row("u2", org="s1,s2", given="Ren\xe9e"), user_row("u3")]
    content = users(*rows, header=USERS_HEADER.replace("givenName", "users.givenName")).encode("cp1252")
    with open_bundle(write_zip(tmp_path / "b.zip", bundle_files(users_csv=content))) as bundle:
        (error,) = bundle.validate().errors
    assert (error.file, error.line, error.column) == ("users.csv", 3, "givenName")
    assert "Windows-1252" in error.problem


def test_a_users_csv_that_is_a_folder_is_named_as_a_folder_not_just_missing(tmp_path):
    # the admin sees users.csv in the listing; "users.csv is missing" alone sends them looking for the wrong thing
    folder = write_dir(tmp_path / "export", bundle_files(users_csv=None))
    (tmp_path / "export" / "users.csv").mkdir()
    zipped = _raw_zip(tmp_path / "export.zip", [*bundle_files(users_csv=None).items(), ("users.csv/", "")])
    for path in (folder, zipped):
        (error,) = [text for text in problems(path) if "users.csv is missing" in text]
        assert "The bundle has a folder named users.csv, not a file" in error


def test_a_folder_of_more_files_than_a_bundle_may_hold_is_refused_like_a_zip(tmp_path):
    folder = write_dir(tmp_path / "downloads", bundle_files())
    for n in range(Limits().max_entries):
        (tmp_path / "downloads" / f"photo{n}.jpg").write_bytes(b"x")
    assert "The folder holds more than the 200 files allowed" in refused(folder)


def test_a_manifest_saved_with_semicolons_gets_one_error_that_names_the_separator(tmp_path):
    """Its header of two columns holds one semicolon; users.csv's rule wanted two, so the error named the required
    columns as missing instead."""
    with open_bundle(write_zip(tmp_path / "b.zip", bundle_files(manifest_csv=MANIFEST_11.replace(",", ";")))) as bundle:
        (error,) = bundle.validate().errors
    assert (error.file, error.line) == ("manifest.csv", 1) and "separated by semicolons" in error.problem


def test_a_manifest_naming_file_users_csv_as_delta_is_read_as_delta_not_bulk(tmp_path):
    """file.users.csv,delta fell through as no file.users row at all, read as bulk: everyone the delta leaves out
    would have been archived."""
    manifest = MANIFEST_11.replace("file.users,bulk", "file.users.csv,delta")
    rows = users(user_row("u1", status="active", dateLastModified="2026-02-01T00:00:00Z"))
    with open_bundle(write_zip(tmp_path / "b.zip", bundle_files(manifest_csv=manifest, users_csv=rows))) as bundle:
        report = bundle.validate()
        assert (bundle.users_mode, bundle.full) == ("delta", False)
    assert any("file.users.csv names the file with its .csv; it is read as file.users" in text for text in texts(report))
    clash = MANIFEST_11 + "file.users.csv,delta\n"
    assert any("gives file.users twice" in text for text in problems(write_zip(tmp_path / "c.zip",
                                                                             bundle_files(manifest_csv=clash))))


def test_a_file_with_two_byte_order_marks_is_read_by_its_header(tmp_path):
    text = "\ufeff\ufeff" + users(user_row("u1"))
    with open_bundle(write_zip(tmp_path / "b.zip", bundle_files(users_csv=text))) as bundle:
        report = bundle.validate()
        assert report.errors == [] and bundle.users_read == 1


def test_a_manifest_without_file_users_beside_a_delta_row_is_an_error_not_a_bulk_read(tmp_path):
    """Read as bulk, a delta export with its file.users row left out would archive everyone it leaves out (the
    archive guard alone would stand in the way); with every other row bulk, bulk stays the reading, with a warning."""
    delta = MANIFEST_11.replace("file.orgs,bulk", "file.orgs,delta").replace("file.users,bulk\n", "")
    with open_bundle(write_zip(tmp_path / "b.zip", bundle_files(manifest_csv=delta))) as bundle:
        report = bundle.validate()
    assert not report.applicable
    assert [(e.file, e.problem) for e in report.errors] == [(
        "manifest.csv", "The manifest has no file.users row but says file.orgs is delta, so it is not clear whether "
        "users.csv is a full export (bulk: people it leaves out have left) or changes only (delta).")]
    bulk = MANIFEST_11.replace("file.users,bulk\n", "")
    with open_bundle(write_zip(tmp_path / "c.zip", bundle_files(manifest_csv=bulk))) as bundle:
        report = bundle.validate()
        assert report.applicable and (bundle.users_mode, bundle.full) == ("bulk", True)
    assert "The manifest has no file.users row; users.csv is read as bulk." in " ".join(texts(report))


@pytest.mark.parametrize("header", [USERS_HEADER, USERS_HEADER.upper(), ",".join(f"U.{c}" for c in USERS_HEADER.split(","))])
def test_a_header_row_repeated_inside_users_csv_is_named_as_such_not_as_a_user_with_role_role(tmp_path, header):
    """Two exports joined into one file: the second header read as user 'sourcedId' with the role 'role'."""
    before = "".join(user_row(f"a{n}") + "\n" for n in range(1, 250))  # batches of 100 rows: the fast path too
    text = users(user_row("u1")) + before + header + "\n" + user_row("u2") + "\n"
    with open_bundle(write_zip(tmp_path / "b.zip", bundle_files(users_csv=text))) as bundle:
        report = bundle.validate()
        assert report.applicable and bundle.users_read == 251
    assert texts(report) == [
        "users.csv line 252: This line repeats the header row, so it is not a user; it is skipped. If two exports were "
        "joined into one users.csv, export it again as one file: rows repeated after this line are reported as used "
        "by an earlier row."]
