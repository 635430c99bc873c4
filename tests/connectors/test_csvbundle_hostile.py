"""Hostile or broken bundles are refused with a clear message before anything is read from them."""
import io
import secrets
import struct
import zipfile

import pytest

from connectors.csvbundle import BundleRefused, Limits, open_bundle
from connectors.csvbundle.errors import FileUnreadable
from connectors.csvbundle.lines import Lines

from csv_helpers import USERS_HEADER, bundle_files, texts, user_row, users, write_dir, write_zip, zip_bytes

MB = 1024 * 1024
HEADER = (USERS_HEADER + "\n").encode()


def refused(path, limits=None) -> str:
    with pytest.raises(BundleRefused) as err:
        with open_bundle(path, limits) as bundle:
            bundle.validate()
    return str(err.value)


def test_a_zip_bomb_is_refused_by_its_declared_size(tmp_path):
    files = bundle_files(big_csv=secrets.token_hex(3 * MB // 2).encode())  # hex barely compresses
    assert refused(write_zip(tmp_path / "b.zip", files), Limits(max_total_bytes=2 * MB)) == (
        "The bundle would expand to 3 MB, more than the 2 MB allowed; it is refused as a possible zip bomb. Send only "
        "the CSV files a people sync needs (manifest, orgs, users).")


def test_a_zip_bomb_is_refused_by_its_compression_ratio(tmp_path):
    message = refused(write_zip(tmp_path / "b.zip", bundle_files(users_csv=b"a" * (5 * MB))))
    assert message.startswith("The zip entry 'users.csv' would expand from ")
    assert message.endswith("to 5 MB, far more than CSV files compress; it is refused as a possible zip bomb. Send "
                            "the export as the SIS wrote it.")


def test_an_entry_holding_more_than_it_declares_is_refused_while_streaming(tmp_path):
    data = bytearray(zip_bytes(bundle_files(users(*[user_row(f"u{i}") for i in range(50)]))))
    entry = data.rfind(b"PK\x01\x02", 0, data.rfind(b"users.csv"))  # users.csv's central directory record
    assert entry > 0
    struct.pack_into("<L", data, entry + 24, 100)  # the central directory now claims 100 bytes uncompressed
    (tmp_path / "b.zip").write_bytes(bytes(data))
    assert refused(tmp_path / "b.zip") == ("users.csv in the zip is damaged (Bad CRC-32 for file 'users.csv'): the "
                                           "transfer was probably cut off. Send the whole file again; if it keeps "
                                           "failing, export the bundle from the SIS again.")


@pytest.mark.parametrize("name", ["../users.csv", "/etc/users.csv", "export/../../users.csv", "C:/users.csv",
                                  "..\\users.csv"])
def test_entries_outside_the_bundle_are_refused(tmp_path, name):
    with zipfile.ZipFile(tmp_path / "b.zip", "w") as zf:
        for n, content in bundle_files(users_csv=None).items():
            zf.writestr(n, content)
        info = zipfile.ZipInfo("placeholder")
        info.filename = name  # ZipInfo would normalise the name; write it as a hostile tool would
        zf.writestr(info, users(user_row("u1")))
    assert refused(tmp_path / "b.zip") == (f"The zip entry {name!r} points outside the bundle (an absolute path or "
                                           "'..'); the zip is refused. Re-create the zip from the export folder itself.")


def test_a_symlink_entry_is_refused(tmp_path):
    with zipfile.ZipFile(tmp_path / "b.zip", "w") as zf:
        for n, content in bundle_files(users_csv=None).items():
            zf.writestr(n, content)
        info = zipfile.ZipInfo("users.csv")
        info.external_attr = (0o120777 << 16)
        zf.writestr(info, "/etc/passwd")
    assert refused(tmp_path / "b.zip") == ("The zip entry 'users.csv' is a symbolic link; links are refused so that a "
                                           "bundle cannot point at other files. Zip the files themselves.")


def test_a_symlink_in_a_folder_bundle_is_refused(tmp_path):
    folder = write_dir(tmp_path / "d", bundle_files(users_csv=None))
    (tmp_path / "d" / "users.csv").symlink_to("/etc/passwd")
    assert refused(folder) == ("users.csv is a symbolic link; links are refused so that a bundle cannot point at "
                               "other files. Send the files themselves.")


class EndlessLine(io.RawIOBase):
    """2 GB of one line, produced on demand (never on disk or in memory)."""

    def __init__(self, size=2 * 1024 * MB):
        self.left, self.read_so_far = size, 0

    def readable(self):
        return True

    def readinto(self, buffer):
        n = min(len(buffer), self.left)
        buffer[:n] = b"a" * n
        self.left -= n
        self.read_so_far += n
        return n


def test_a_2_gb_line_is_refused_after_reading_two_megabytes():
    raw = EndlessLine()
    lines = Lines(io.BufferedReader(raw, 256 * 1024), max_line_bytes=MB)
    with pytest.raises(FileUnreadable) as err:
        list(lines)
    assert err.value.problem == ("Line 1 is longer than 1,048,576 bytes, so this is not a OneRoster CSV file (or it "
                                 "has no line breaks).")
    assert raw.read_so_far <= 2 * MB + 256 * 1024  # two blocks and the buffer, never the 2 GB


def test_an_over_long_line_in_a_bundle_is_reported(tmp_path):
    data = users(user_row("u1"), user_row("u2", given="x" * 5000))
    with open_bundle(write_zip(tmp_path / "b.zip", bundle_files(data)), Limits(max_line_bytes=1000)) as bundle:
        report = bundle.validate()
    assert texts(report) == ["users.csv line 3: Line 3 is longer than 1,000 bytes, so this is not a OneRoster CSV file "
                             "(or it has no line breaks). Check that the export wrote one record per line, then send "
                             "the bundle again."]
    assert not report.applicable


@pytest.mark.parametrize("content,problem", [
    (zip_bytes({"xl/workbook.xml": "<x/>"}), "The file is a zip archive or an Excel workbook (.xlsx) renamed .csv, "
     "not CSV text. Export the OneRoster CSV file itself (not a workbook or archive), then send it again."),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500), "The file is an old Excel workbook (.xls) renamed .csv, not CSV "
     "text. Export the OneRoster CSV file itself (not a workbook or archive), then send it again."),
    (HEADER + b"\x01\x02\x00\x00\xff\xfe", "The file holds binary data (NUL bytes), not CSV text. Export the "
     "OneRoster CSV file again; do not rename other files to .csv."),
    (HEADER + b"\x01\x02\x9d\xff\xfe", "The file holds binary data (control bytes that CSV text never has), not "
     "CSV text. Export the OneRoster CSV file again; do not rename other files to .csv."),
    (HEADER + bytes([0x81, 0x8d, 0x41]), "The file is not UTF-8 (byte 0x81 at position 1) and its encoding is not "
     "recognised. Export the file as UTF-8 (in Excel: Save As \"CSV UTF-8 (Comma delimited)\"), then send the "
     "bundle again."),
    ("sourcedId\n".encode("utf-16"), "The file is UTF-16 text (Excel's \"Unicode Text\"), not UTF-8. Export the file "
     "as UTF-8 (in Excel: Save As \"CSV UTF-8 (Comma delimited)\"), then send the bundle again."),
])
def test_binary_data_renamed_csv_is_refused(tmp_path, content, problem):
    with open_bundle(write_zip(tmp_path / "b.zip", bundle_files(content))) as bundle:
        report = bundle.validate()
    assert texts(report)[0].split(": ", 1)[1] == problem
    assert not report.applicable


def test_a_transfer_cut_off_midway_is_refused(tmp_path):
    data = zip_bytes(bundle_files(users(*[user_row(f"u{i}") for i in range(200)])))
    (tmp_path / "b.zip").write_bytes(data[:len(data) // 2])
    assert refused(tmp_path / "b.zip") == ("The zip file is incomplete: it ends before its table of contents, so the "
                                           "upload or transfer was cut off midway. Send the whole file again; if it "
                                           "keeps failing, export the bundle from the SIS again.")


def test_a_file_that_is_not_a_zip_is_refused(tmp_path):
    (tmp_path / "b.zip").write_bytes(b"sourcedId,status\n")
    assert refused(tmp_path / "b.zip") == ("The file is not a zip archive. Upload the zip the SIS exported, or the CSV "
                                           "files themselves.")


def test_a_flood_of_entries_is_refused_before_they_are_listed(tmp_path):
    files = bundle_files(**{f"extra{i}_csv": "x\n" for i in range(30)})
    assert refused(write_zip(tmp_path / "b.zip", files), Limits(max_entries=10)) == (
        "The zip holds 33 entries, more than the 10 allowed for a OneRoster bundle. Send only the CSV files of the "
        "export.")


def test_two_files_of_one_name_are_refused(tmp_path):
    files = bundle_files(**{"export/users.csv": users(user_row("u2"))})
    assert refused(write_zip(tmp_path / "b.zip", files)) == (
        "The bundle holds two files named users.csv (users.csv and export/users.csv); it is not clear which one to "
        "read. Send one set of files.")


def test_a_missing_bundle_is_named(tmp_path):
    assert refused(tmp_path / "gone.zip") == "There is no file or folder at gone.zip. Upload the zip again."


def test_a_file_growing_past_its_declared_size_is_refused_while_streaming(tmp_path):
    folder = write_dir(tmp_path / "d", bundle_files())
    with open_bundle(folder) as bundle:
        with open(tmp_path / "d" / "users.csv", "a") as still_arriving:
            still_arriving.write(user_row("u2") * 20000)
        with pytest.raises(BundleRefused) as err:
            bundle.validate()
    assert str(err.value) == ("users.csv holds more data than its declared size or than one file may hold; it is "
                              "refused (a possible zip bomb, or a file still being written). Send the whole file "
                              "again; if it keeps failing, export the bundle from the SIS again.")
