"""The SFTP drop as a careless or hostile client uses it (issue 16's "more cases of the same kind"): each attempt gets
an SFTP error that says what to do, nothing leaves the account's folder and nothing partial is synced."""
import asyncio
import os

import asyncssh
import pytest

from portal.sftp import accounts, drop as drop_module, server
from store.db import db
from store.models import RosterBundle, RosterConnection
from tests.connectors.csv_helpers import bundle_files, zip_bytes
from tests.factories import make_school, make_source, map_school
from tests.sftp_support import csv_school_account, received, run


def _bundles(school):
    db.session.rollback()
    return list(db.session.scalars(db.select(RosterBundle).where(RosterBundle.school_id == school.id)))


def test_renaming_a_file_still_being_written_is_refused_and_nothing_is_taken_in(app, drop):
    school, account, password = csv_school_account("rename-open")
    whole = zip_bytes(bundle_files())

    async def upload():
        async with drop.connect("rename-open", password) as conn:
            async with conn.start_sftp_client() as sftp:
                async with sftp.open("roster.filepart", "wb") as remote:
                    await remote.write(whole[:len(whole) // 2])
                    with pytest.raises(asyncssh.SFTPError, match="Close the file before renaming it"):
                        await sftp.rename("roster.filepart", "roster.zip")
                    await remote.write(whole[len(whole) // 2:], len(whole) // 2)
                await sftp.rename("roster.filepart", "roster.zip")  # closed now: the whole file is taken in

    run(upload())
    (bundle,) = received(drop, school)
    assert bundle.status == "valid", bundle.summary


def test_renaming_out_of_the_folder_or_over_a_link_is_refused(app, drop):
    north, _, _ = csv_school_account("north-probe")
    school, account, password = csv_school_account("south-probe")
    north_folder = accounts.folder_of("north-probe")

    async def upload():
        async with drop.connect("south-probe", password) as conn:
            async with conn.start_sftp_client() as sftp:
                async with sftp.open("x.part", "wb") as remote:
                    await remote.write(b"PK")
                for target in ("../north-probe/x.zip", "/../north-probe/x.zip", str(north_folder / "x.zip")):
                    with pytest.raises(asyncssh.SFTPError):
                        await sftp.rename("x.part", target)
                with pytest.raises(asyncssh.SFTPError, match="Links cannot be made"):
                    await sftp.symlink("/", "root-link")
                with pytest.raises(asyncssh.SFTPError, match="Links cannot be made"):
                    await sftp.link("x.part", "hard.zip")

    run(upload())
    assert os.listdir(north_folder) == []


def test_a_name_with_a_line_break_is_refused_with_what_to_do(app, drop):
    school, account, password = csv_school_account("odd-names")

    async def upload():
        async with drop.connect("odd-names", password) as conn:
            async with conn.start_sftp_client() as sftp:
                with pytest.raises(asyncssh.SFTPError, match="without control characters"):
                    async with sftp.open("roster\nBcc: x.zip", "wb") as remote:
                        await remote.write(zip_bytes(bundle_files()))

    run(upload())
    assert _bundles(school) == []


def test_csv_files_that_never_get_a_manifest_cannot_fill_the_disk(app, drop, monkeypatch):
    # Each completed CSV file leaves the account's folder for the set that waits for manifest.csv; without a cap a
    # client could send file after file (each under the per-file limit) and the set would grow without end.
    school, account, password = csv_school_account("endless-set")
    drop.drop.quiet_seconds = 60
    monkeypatch.setattr(drop_module, "MAX_SET_BYTES", 3000)
    monkeypatch.setattr(drop_module, "MAX_SET_FILES", 3)

    async def upload():
        async with drop.connect("endless-set", password) as conn:
            async with conn.start_sftp_client() as sftp:
                for n in range(2):
                    async with sftp.open(f"part{n}.csv", "wb") as remote:
                        await remote.write(b"x" * 1000)
                with pytest.raises(asyncssh.SFTPError, match="still waiting for manifest.csv"):
                    async with sftp.open("part2.csv", "wb") as remote:
                        await remote.write(b"x" * 1500)
                async with sftp.open("part3.csv", "wb") as remote:
                    await remote.write(b"x" * 10)
                with pytest.raises(asyncssh.SFTPError, match="still waiting for manifest.csv"):
                    await sftp.open("part4.csv", "wb")
                async with sftp.open("big.filepart", "wb") as remote:
                    await remote.write(b"x" * 2000)
                with pytest.raises(asyncssh.SFTPError, match="still waiting for manifest.csv"):
                    await sftp.rename("big.filepart", "part5.csv")

    run(upload())
    waiting = drop.drop.sets[account.id]
    assert sorted(waiting.names) == ["part0.csv", "part1.csv", "part3.csv"]
    assert sum(entry.stat().st_size for entry in os.scandir(waiting.folder)) == 2010


def test_many_parallel_uploads_of_one_account_are_bounded(app, drop, monkeypatch):
    school, account, password = csv_school_account("parallel")
    monkeypatch.setattr(server, "MAX_OPEN_UPLOADS", 3)

    async def upload():
        async with drop.connect("parallel", password) as conn:
            async with conn.start_sftp_client() as sftp:
                opened = [await sftp.open(f"r{n}.zip.part", "wb") for n in range(3)]
                with pytest.raises(asyncssh.SFTPError, match="3 files are already being sent"):
                    await sftp.open("r3.zip.part", "wb")
                await opened[0].close()
                later = await sftp.open("r4.zip.part", "wb")  # one finished: the next may start
                for remote in opened[1:] + [later]:
                    await remote.close()

    run(upload())


def test_a_half_written_csv_then_a_dropped_connection_syncs_nothing(app, drop):
    school, account, password = csv_school_account("half-csv")
    files = {name: content.encode() for name, content in bundle_files().items()}

    async def upload():
        conn = await drop.connect("half-csv", password)
        sftp = await conn.start_sftp_client()
        for name in ("manifest.csv", "orgs.csv"):
            async with sftp.open(name, "wb") as remote:
                await remote.write(files[name])
        remote = await sftp.open("users.csv", "wb")
        await remote.write(files["users.csv"][:40])
        conn.abort()  # the network goes; users.csv was never closed
        await asyncio.sleep(0.2)

    run(upload())
    (bundle,) = received(drop, school)
    assert bundle.status == "refused"
    assert bundle.summary.startswith("The upload was cut off after 40 bytes") and "set aside too" in bundle.summary
    assert accounts.folder_of("half-csv").exists() and os.listdir(accounts.folder_of("half-csv")) == []


def test_a_file_refused_as_too_large_midway_is_discarded_not_taken_in(app, drop):
    school, account, password = csv_school_account("too-large")
    drop.drop.max_bytes = 4000
    rows = "\n".join(f"u{n},,,true,s1,student,u{n},,Ann,Lee,,,u{n}@x.org,,,,,09" for n in range(200))

    async def upload():
        async with drop.connect("too-large", password) as conn:
            async with conn.start_sftp_client() as sftp:
                with pytest.raises(asyncssh.SFTPError, match="larger than"):
                    async with sftp.open("users.csv", "wb") as remote:
                        for at in range(0, len(rows), 1000):  # the first 4,000 bytes are written, then refused
                            await remote.write(rows[at:at + 1000].encode(), at)

    run(upload())
    assert received(drop, school, timeout=0.5) == []
    assert account.id not in drop.drop.sets  # the first 4,000 bytes never joined a set as if they were users.csv
    assert os.listdir(accounts.folder_of("too-large")) == []


def test_a_zip_with_the_longest_name_the_folder_takes_is_still_taken_in(app, drop):
    school, account, password = csv_school_account("long-name")
    name = "r" * 251 + ".zip"  # 255 bytes: the most a file name may have on the drop's disk

    async def upload():
        async with drop.connect("long-name", password) as conn:
            async with conn.start_sftp_client() as sftp:
                async with sftp.open(name, "wb") as remote:
                    await remote.write(zip_bytes(bundle_files()))

    run(upload())
    (bundle,) = received(drop, school)
    assert bundle.status == "valid" and bundle.filename == name


def test_a_client_cannot_change_a_files_mode_or_size_only_its_times(app, drop):
    school, account, password = csv_school_account("modes")

    async def upload():
        async with drop.connect("modes", password) as conn:
            async with conn.start_sftp_client() as sftp:
                async with sftp.open("roster.part", "wb", asyncssh.SFTPAttrs(permissions=0o000)) as remote:
                    await remote.write(b"PK")
                    await remote.setstat(asyncssh.SFTPAttrs(permissions=0o000, size=10 ** 9))
                await sftp.setstat("roster.part", asyncssh.SFTPAttrs(permissions=0o4777, size=10 ** 9, mtime=1000,
                                                                     atime=1000))
                return await sftp.stat("roster.part")

    attrs = run(upload())
    assert (attrs.permissions & 0o7777, attrs.size, attrs.mtime) == (0o600, 2, 1000)


@pytest.mark.parametrize("version", [3, 6])  # open() below version 5, open56() from it
def test_appending_at_offset_zero_cannot_write_past_the_size_limit(app, drop, version):
    # An append-mode handle writes at the end of the file whatever offset the client sends: the limit must follow
    # where the data lands, or one account could fill the drop's disk through a single open file. A bundle sent in
    # append mode (OpenSSH's reput) is still taken in.
    school, account, password = csv_school_account("append-flood")
    whole = zip_bytes(bundle_files())
    drop.drop.max_bytes = len(whole) + 100
    folder = accounts.folder_of("append-flood")
    append = asyncssh.FXF_WRITE | asyncssh.FXF_CREAT | asyncssh.FXF_APPEND

    async def upload():
        async with drop.connect("append-flood", password) as conn:
            async with conn.start_sftp_client(sftp_version=version) as sftp:
                remote = await sftp.open("huge.zip", append, encoding=None)
                with pytest.raises(asyncssh.SFTPError, match="larger than"):
                    for _ in range(20):
                        await remote.write(whole, 0)
                (part,) = (drop.drop.parts / "append-flood").iterdir()  # the handle's own file until it closes
                assert os.path.getsize(part) <= drop.drop.max_bytes
                await remote.close()
                async with sftp.open("roster.zip", append, encoding=None) as remote:
                    for at in range(0, len(whole), 300):
                        await remote.write(whole[at:at + 300], 0)

    run(upload())
    (bundle,) = received(drop, school)
    assert (bundle.filename, bundle.status, bundle.size) == ("roster.zip", "valid", len(whole))
    assert os.listdir(folder) == []


@pytest.mark.parametrize("version", [3, 6])
def test_a_file_created_by_a_read_only_open_gets_the_same_checks_as_an_upload(app, drop, monkeypatch, version):
    # FXF_CREAT without FXF_WRITE makes a file too: it used to skip the name rules and the folder's cap, and stayed
    # on disk after the session (the next server start then listed each one as an interrupted upload).
    school, account, password = csv_school_account("read-create")
    monkeypatch.setattr(server, "MAX_FOLDER_ENTRIES", 3)
    folder = accounts.folder_of("read-create")
    read_create = asyncssh.FXF_READ | asyncssh.FXF_CREAT

    async def upload():
        async with drop.connect("read-create", password) as conn:
            async with conn.start_sftp_client(sftp_version=version) as sftp:
                with pytest.raises(asyncssh.SFTPError, match="without control characters"):
                    await sftp.open("line\nbreak.zip", read_create)
                with pytest.raises(asyncssh.SFTPError, match="in UTF-8"):
                    await sftp.open(b"caf\xe9.zip", read_create)
                opened = [await sftp.open(f"empty{n}", read_create) for n in range(3)]
                with pytest.raises(asyncssh.SFTPError, match="already holds 3 files"):
                    await sftp.open("empty3", read_create)
                for remote in opened:
                    await remote.close()
                assert sorted(await sftp.listdir("/")) == [".", "..", "empty0", "empty1", "empty2"]

    run(upload())
    assert os.listdir(folder) == [] and received(drop, school, timeout=0.3) == []


def test_the_account_cannot_remove_its_own_folder(app, drop):
    school, account, password = csv_school_account("no-rmdir")

    async def upload():
        async with drop.connect("no-rmdir", password) as conn:
            async with conn.start_sftp_client() as sftp:
                for path in ("/", ".", "/.."):
                    with pytest.raises(asyncssh.SFTPError, match="no folders to remove"):
                        await sftp.rmdir(path)
                async with sftp.open("roster.zip", "wb") as remote:  # the folder is still there to upload into
                    await remote.write(zip_bytes(bundle_files()))

    run(upload())
    (bundle,) = received(drop, school)
    assert bundle.status == "valid"


def test_a_retry_on_a_new_connection_survives_the_old_connection_ending_later(app, drop):
    # The network drops mid-upload; the SIS reconnects and sends the file again while the server still holds the old
    # connection (until its keepalives run out). The old one's end deleted the retry's file by name: the SIS was
    # told the retry succeeded, and nothing was received.
    school, account, password = csv_school_account("retry")
    whole = zip_bytes(bundle_files())

    async def upload():
        old = await drop.connect("retry", password)
        old_sftp = await old.start_sftp_client()
        stale = await old_sftp.open("roster.zip", "wb")
        await stale.write(whole[:100])
        async with drop.connect("retry", password) as conn:
            async with conn.start_sftp_client() as sftp:
                async with sftp.open("roster.zip", "wb") as remote:
                    await remote.write(whole[:200])
                    old.abort()
                    await asyncio.sleep(0.3)  # the server ends the old connection now
                    await remote.write(whole[200:], 200)

    run(upload())
    cut_off, retry = received(drop, school, count=2)
    assert cut_off.status == "refused" and "cut off after 100 bytes" in cut_off.summary
    assert (retry.filename, retry.status, retry.size) == ("roster.zip", "valid", len(whole))


def test_a_csv_set_resent_on_a_new_connection_is_not_set_aside_when_the_old_one_ends(app, drop):
    # The cut-off of the old connection set aside the account's whole waiting set, by then the retry's manifest.csv
    # and orgs.csv: the retry's users.csv then waited alone and was refused as a bundle without a manifest.
    school, account, password = csv_school_account("retry-set")
    drop.drop.quiet_seconds = 5  # only a complete set (or the cut-off) ends a set here
    files = {name: content.encode() for name, content in bundle_files().items()}

    async def send(sftp, name, data):
        async with sftp.open(name, "wb") as remote:
            await remote.write(data)

    async def upload():
        old = await drop.connect("retry-set", password)
        old_sftp = await old.start_sftp_client()
        for name in ("manifest.csv", "orgs.csv"):
            await send(old_sftp, name, files[name])
        stale = await old_sftp.open("users.csv", "wb")
        await stale.write(files["users.csv"][:40])
        async with drop.connect("retry-set", password) as conn:
            async with conn.start_sftp_client() as sftp:
                for name in ("manifest.csv", "orgs.csv"):
                    await send(sftp, name, files[name])
                old.abort()
                await asyncio.sleep(0.3)  # the server ends the old connection now
                await send(sftp, "users.csv", files["users.csv"])

    run(upload())
    cut_off, retry = received(drop, school, count=2)
    assert cut_off.status == "refused" and "cut off after 40 bytes" in cut_off.summary
    assert retry.status == "valid", retry.summary
    assert retry.filename == "3 CSV files: manifest.csv, orgs.csv, users.csv"


def _switched_to_api(kind):
    """An account whose files are no longer read: its school, or its district CSV source, now reads the SIS's API."""
    if kind == "school":
        school, account, password = csv_school_account("now-api")
        conn = db.session.scalar(db.select(RosterConnection).where(RosterConnection.school_id == school.id))
        conn.method = "oneroster"
        db.session.commit()
        return school, account.username, password
    school = make_school(slug="source-school")
    source = make_source(school.district, name="District feed", method="csv")
    map_school(school, source, "s1", method="oneroster_csv")
    account, password = accounts.create_source_account(source, None)
    source.method = "oneroster"  # saved again on the Sources page as an API source; the account stays
    db.session.commit()
    return school, account.username, password


@pytest.mark.parametrize("kind, says", [
    ("school", "now syncs from the OneRoster API (the Method on its Rostering page)"),
    ("source", "The district source District feed now reads the SIS's API"),
])
def test_an_account_whose_school_or_source_now_reads_the_api_refuses_uploads_saying_why(app, drop, kind, says):
    # The upload succeeded and the bundle was kept unread (a school's) or synced into no school (a source's), while
    # the page, on the API method, no longer shows the account: the SIS went on sending student data each night.
    school, username, password = _switched_to_api(kind)

    async def upload():
        async with drop.connect(username, password) as conn:
            async with conn.start_sftp_client() as sftp:
                with pytest.raises(asyncssh.SFTPError) as err:
                    async with sftp.open("roster.zip", "wb") as remote:
                        await remote.write(zip_bytes(bundle_files()))
                assert says in str(err.value) and "not read" in str(err.value)

    run(upload())
    drop.drain()
    db.session.rollback()
    assert db.session.scalar(db.select(db.func.count(RosterBundle.id))) == 0


def test_a_file_refused_as_too_large_does_not_take_the_resent_file_with_it(app, drop):
    # The SIS is told the file is too large and sends a smaller export under the same name on a new connection
    # before the first one closes its handle: that close deleted the new file by name, and its upload vanished.
    school, account, password = csv_school_account("resend-smaller")
    whole = zip_bytes(bundle_files())
    drop.drop.max_bytes = len(whole) + 100

    async def upload():
        async with drop.connect("resend-smaller", password) as first:
            first_sftp = await first.start_sftp_client()
            big = await first_sftp.open("roster.zip", "wb")
            with pytest.raises(asyncssh.SFTPError, match="larger than"):
                await big.write(b"x" * (len(whole) + 200))
            async with drop.connect("resend-smaller", password) as second:
                async with second.start_sftp_client() as sftp:
                    async with sftp.open("roster.zip", "wb") as remote:
                        await remote.write(whole[:100])
                        await big.close()  # the first connection lets go of its refused file now
                        await remote.write(whole[100:], 100)

    run(upload())
    (bundle,) = received(drop, school)
    assert (bundle.status, bundle.size) == ("valid", len(whole))
