"""The SFTP drop with a real SSH client: password and key sign-in, refusals, one account confined to its own folder,
and upload → validation → sync, a set of CSV files, a transfer cut off midway."""
import asyncio
import os
import shutil
import subprocess

import asyncssh
import pytest

from jobs.sync import run_sync
from portal.sftp import accounts, server
from store.db import db
from store.models import AuditEvent, SftpAccount, SyncRun
from tests.connectors.csv_helpers import bundle_files, user_row, users, zip_bytes
from tests.factories import make_csv_connection, make_school, make_source, map_school
from tests.sftp_support import put_files, received, run
from tests.support import people


def _account(school, keys: str = ""):
    account, password = accounts.create_account(school, None)
    if keys:
        accounts.save_keys(account, keys, None)
    return account, password


def _bundle(*rows) -> bytes:
    return zip_bytes(bundle_files(users_csv=users(*rows) if rows else users(user_row("u1", given="Ada"))))


def _runs(school):
    db.session.rollback()
    return list(db.session.scalars(db.select(SyncRun).where(SyncRun.school_id == school.id)))


def _folder(account) -> list[str]:
    return sorted(os.listdir(accounts.folder_of(account.username)))


def test_a_zip_put_with_a_password_is_validated_and_synced(app, drop):
    school = make_school(slug="north-high")
    make_csv_connection(school)
    account, password = _account(school)
    run(put_files(drop, "north-high", {"roster.zip": _bundle(user_row("u1", given="Ada"),
                                                             user_row("t1", role="teacher", given="Tom"))},
                  password=password))
    (bundle,) = received(drop, school)
    assert bundle.via == "sftp" and bundle.filename == "roster.zip" and bundle.status == "valid", bundle.summary
    assert "Sync started" in bundle.summary
    assert _folder(account) == []  # taken out of the account's folder into bundle storage
    (sync_run,) = _runs(school)
    run_sync(sync_run.id)
    assert sorted(p[1] for p in people(school)) == ["Ada", "Tom"]
    db.session.expire_all()
    assert db.session.get(SftpAccount, account.id).last_login_at is not None


def test_a_key_signs_in_without_a_password(app, drop):
    school = make_school(slug="key-school")
    make_csv_connection(school, csv_sync_on_receipt="nightly")
    key = asyncssh.generate_private_key("ssh-ed25519")
    _account(school, keys=key.export_public_key().decode())
    run(put_files(drop, "key-school", {"export.zip": _bundle()}, client_keys=[key]))
    (bundle,) = received(drop, school)
    assert bundle.status == "valid" and _runs(school) == []  # nightly: kept for the night's sync


@pytest.mark.parametrize("credentials", ["wrong password", "other key", "unknown user"])
def test_wrong_credentials_are_refused(app, drop, credentials):
    school = make_school(slug="locked-school")
    key = asyncssh.generate_private_key("ssh-ed25519")
    _account(school, keys=key.export_public_key().decode())
    username, options = "locked-school", {}
    if credentials == "wrong password":
        options["password"] = "not-the-password"
    elif credentials == "other key":
        options["client_keys"] = [asyncssh.generate_private_key("ssh-ed25519")]
    else:
        username, options["password"] = "no-such-school", "anything"
    with pytest.raises(asyncssh.PermissionDenied):
        run(put_files(drop, username, {"roster.zip": _bundle()}, **options))
    assert received(drop, school, timeout=0.3) == []


def test_repeated_wrong_passwords_lock_the_address_out_even_with_the_right_one(app, drop):
    school = make_school(slug="guessed-school")
    _, password = _account(school)
    drop.drop.throttle.max_failures = 3

    async def attempt(secret):
        try:
            async with drop.connect("guessed-school", secret):
                return True
        except asyncssh.PermissionDenied:
            return False

    async def attempts():
        return [await attempt("guess-1"), await attempt("guess-2"), await attempt("guess-3"), await attempt(password)]

    assert run(attempts()) == [False, False, False, False]


def test_only_sftp_no_shell_exec_or_forwarding(app, drop):
    school = make_school(slug="plain-school")
    _, password = _account(school)

    async def probe():
        async with drop.connect("plain-school", password) as conn:
            with pytest.raises((asyncssh.ChannelOpenError, asyncssh.ProcessError, asyncssh.Error)):
                await conn.run("cat /etc/passwd", check=True)
            with pytest.raises(asyncssh.ChannelOpenError):
                await conn.open_connection("127.0.0.1", drop.port)

    run(probe())


def test_an_account_sees_only_its_own_folder_and_cannot_get_out(app, drop, tmp_path):
    north, south = make_school(slug="north"), make_school(slug="south")
    north_account, north_password = _account(north)
    _, south_password = _account(south)
    north_folder = accounts.folder_of(north_account.username)
    (north_folder / "secret.txt").write_text("north's file")
    outside = tmp_path / "outside.txt"
    outside.write_text("outside")
    south_folder = accounts.folder_of("south")
    os.symlink(north_folder, south_folder / "planted-link")  # a link someone left on disk is still no way out

    async def probe():
        async with drop.connect("south", south_password) as conn:
            async with conn.start_sftp_client() as sftp:
                assert await sftp.realpath(".") == "/"
                assert await sftp.realpath("../../..") == "/"
                listing = set(await sftp.listdir("/")) - {".", ".."}
                assert "secret.txt" not in listing and "north" not in listing
                for path in ("../north/secret.txt", "/../north/secret.txt", str(north_folder / "secret.txt"),
                             "planted-link/secret.txt", str(outside), "../outside.txt"):
                    with pytest.raises(asyncssh.SFTPError):
                        await sftp.get(path, os.devnull)
                for path in ("../north/evil.zip", "/../north/evil.zip", "planted-link/evil.zip"):
                    with pytest.raises(asyncssh.SFTPError):
                        async with sftp.open(path, "wb") as remote:
                            await remote.write(b"PK")
                with pytest.raises(asyncssh.SFTPError):
                    await sftp.listdir("planted-link")
                with pytest.raises(asyncssh.SFTPError):
                    await sftp.symlink(str(north_folder), "my-link")
                with pytest.raises(asyncssh.SFTPError):
                    await sftp.mkdir("sub")
                with pytest.raises(asyncssh.SFTPError):
                    await sftp.remove("../north/secret.txt")

    run(probe())
    assert sorted(os.listdir(north_folder)) == ["secret.txt"]
    assert (north_folder / "secret.txt").read_text() == "north's file"


def test_a_nul_in_a_path_is_refused_with_words_not_an_uncaught_exception(app, drop):
    account, password = _account(make_school(slug="north"))

    async def probe():
        async with drop.connect("north", password) as conn:
            async with conn.start_sftp_client() as sftp:
                for call in (lambda: sftp.stat("a\x00b.csv"), lambda: sftp.lstat("a\x00b.zip"),
                             lambda: sftp.open("a\x00b.zip", "wb")):
                    with pytest.raises(asyncssh.SFTPPermissionDenied, match="NUL character|control characters"):
                        await call()
                assert await sftp.realpath(".") == "/"  # the session goes on

    run(probe())
    assert _folder(account) == []


def test_a_set_of_csv_files_is_taken_in_as_one_bundle(app, drop):
    school = make_school(slug="csv-school")
    make_csv_connection(school)
    account, password = _account(school)
    files = {name: content.encode() for name, content in bundle_files(users_csv=users(
        user_row("u1", given="Ada"), user_row("u2", given="Bea"))).items()}
    ordered = {name: files[name] for name in ("orgs.csv", "users.csv", "manifest.csv")}  # manifest last
    run(put_files(drop, "csv-school", ordered, password=password))
    (bundle,) = received(drop, school)
    assert bundle.status == "valid", bundle.summary
    assert bundle.filename == "3 CSV files: manifest.csv, orgs.csv, users.csv"
    (sync_run,) = _runs(school)
    run_sync(sync_run.id)
    assert sorted(p[1] for p in people(school)) == ["Ada", "Bea"]
    assert _folder(account) == []


def test_csv_files_over_two_sessions_are_one_bundle_once_the_manifest_files_are_in(app, drop):
    school = make_school(slug="slow-school")
    make_csv_connection(school, csv_sync_on_receipt="nightly")
    _, password = _account(school)
    drop.drop.quiet_seconds = 60  # only the manifest's list completes this set
    files = {name: content.encode() for name, content in bundle_files().items()}
    run(put_files(drop, "slow-school", {"users.csv": files["users.csv"]}, password=password))
    run(put_files(drop, "slow-school", {"manifest.csv": files["manifest.csv"], "orgs.csv": files["orgs.csv"]},
                  password=password))
    bundles = received(drop, school)
    assert len(bundles) == 1, [b.filename for b in bundles]
    assert bundles[0].status == "valid" and bundles[0].filename.startswith("3 CSV files")


def test_a_csv_set_without_a_manifest_is_taken_in_after_a_quiet_period_and_says_what_is_missing(app, drop):
    school = make_school(slug="no-manifest")
    make_csv_connection(school)
    _, password = _account(school)
    files = {name: content.encode() for name, content in bundle_files(manifest_csv=None).items()}
    run(put_files(drop, "no-manifest", files, password=password))
    (bundle,) = received(drop, school)
    assert bundle.status == "invalid" and "manifest" in bundle.summary.lower()
    assert _runs(school) == []


def test_a_transfer_cut_off_midway_is_discarded_and_listed(app, drop):
    school = make_school(slug="cut-school")
    make_csv_connection(school)
    account, password = _account(school)
    data = _bundle()

    async def cut_off():
        conn = await drop.connect("cut-school", password)
        sftp = await conn.start_sftp_client()
        remote = await sftp.open("roster.zip", "wb")
        await remote.write(data[: len(data) // 2])
        conn.abort()  # the network drops before the file is closed
        await asyncio.sleep(0.1)

    run(cut_off())
    (bundle,) = received(drop, school)
    assert bundle.status == "refused" and bundle.filename == "roster.zip"
    assert "cut off" in bundle.summary and "Send the whole bundle again" in bundle.summary
    assert not bundle.stored_path and _runs(school) == [] and people(school) == []
    assert _folder(account) == []


def test_a_cut_off_sets_aside_the_csv_files_sent_before_it(app, drop):
    school = make_school(slug="cut-set")
    make_csv_connection(school)
    _, password = _account(school)
    drop.drop.quiet_seconds = 30  # only the cut-off ends this set
    files = {name: content.encode() for name, content in bundle_files().items()}

    async def cut_off():
        conn = await drop.connect("cut-set", password)
        sftp = await conn.start_sftp_client()
        async with sftp.open("orgs.csv", "wb") as remote:
            await remote.write(files["orgs.csv"])
        remote = await sftp.open("users.csv", "wb")
        await remote.write(files["users.csv"][:40])
        conn.abort()
        await asyncio.sleep(0.1)

    run(cut_off())
    (bundle,) = received(drop, school)
    assert bundle.status == "refused" and bundle.filename == "users.csv"
    assert "The 1 CSV file sent before it was set aside too." in bundle.summary
    assert drop.drop.sets == {} and _runs(school) == []


def test_a_temporary_name_renamed_to_zip_completes_the_upload(app, drop):
    school = make_school(slug="winscp-school")
    make_csv_connection(school, csv_sync_on_receipt="nightly")
    _, password = _account(school)

    async def upload():
        async with drop.connect("winscp-school", password) as conn:
            async with conn.start_sftp_client() as sftp:
                async with sftp.open("roster.zip.filepart", "wb") as remote:
                    await remote.write(_bundle())
                await sftp.rename("roster.zip.filepart", "roster.zip")

    run(upload())
    (bundle,) = received(drop, school)
    assert bundle.filename == "roster.zip" and bundle.status == "valid"


def test_a_file_past_the_size_limit_is_refused_while_it_is_sent(app, drop):
    school = make_school(slug="big-school")
    _, password = _account(school)
    drop.drop.max_bytes = 1000

    async def upload():
        async with drop.connect("big-school", password) as conn:
            async with conn.start_sftp_client() as sftp:
                with pytest.raises(asyncssh.SFTPError, match="larger than"):
                    async with sftp.open("huge.zip", "wb") as remote:
                        await remote.write(b"x" * 5000)

    run(upload())


def test_a_removed_account_can_no_longer_sign_in(app, drop):
    school = make_school(slug="gone-school")
    account, password = _account(school)
    accounts.remove_account(account, None)
    with pytest.raises(asyncssh.PermissionDenied):
        run(put_files(drop, "gone-school", {}, password=password))
    assert db.session.scalar(db.select(AuditEvent.action).where(AuditEvent.action == "sftp_account_removed"))


def test_a_temporary_file_never_renamed_is_removed_when_the_session_ends(app, drop):
    school = make_school(slug="tidy-school")
    account, password = _account(school)
    run(put_files(drop, "tidy-school", {"roster.zip.part": b"half a bundle"}, password=password))
    assert _folder(account) == [] and received(drop, school, timeout=0.3) == []


def test_a_folder_full_of_files_that_are_not_bundles_refuses_more(app, drop, monkeypatch):
    school = make_school(slug="full-school")
    _, password = _account(school)
    monkeypatch.setattr(server, "MAX_FOLDER_ENTRIES", 2)

    async def upload():
        async with drop.connect("full-school", password) as conn:
            async with conn.start_sftp_client() as sftp:
                for name in ("a.part", "b.part"):
                    async with sftp.open(name, "wb") as remote:
                        await remote.write(b"x")
                with pytest.raises(asyncssh.SFTPError, match="already holds 2 files"):
                    await sftp.open("c.zip", "wb")

    run(upload())


def test_files_left_by_an_earlier_run_are_removed_at_start_and_listed(app, drop):
    school = make_school(slug="restart-school")
    account, _ = _account(school)
    (accounts.folder_of(account.username) / "roster.zip").write_bytes(b"PK half")
    (drop.drop.staging / "0123-orphan.zip").write_bytes(b"PK")

    async def sweep():
        return drop.drop.sweep()

    assert asyncio.run_coroutine_threadsafe(sweep(), drop.loop).result(10) == 2
    (bundle,) = received(drop, school)
    assert bundle.status == "refused" and bundle.filename == "roster.zip" and "server stopped" in bundle.summary
    assert _folder(account) == [] and os.listdir(drop.drop.staging) == []


@pytest.mark.skipif(not shutil.which("sftp"), reason="OpenSSH's sftp client is not installed")
def test_openssh_sftp_puts_a_bundle_as_the_readme_says(app, drop, tmp_path):
    """The command SIS administrators and the README use: `sftp -P PORT user@host`, then `put bundle.zip`."""
    school = make_school(slug="openssh-school")
    make_csv_connection(school, csv_sync_on_receipt="nightly")
    key = asyncssh.generate_private_key("ssh-ed25519")
    _account(school, keys=key.export_public_key().decode())
    key_file = tmp_path / "id_ed25519"
    key.write_private_key(str(key_file))
    key_file.chmod(0o600)
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_bytes(f"[127.0.0.1]:{drop.port} ".encode() + drop.host_key.export_public_key())
    (tmp_path / "bundle.zip").write_bytes(_bundle())
    batch = tmp_path / "batch"
    batch.write_text(f"put -p {tmp_path / 'bundle.zip'}\nls\n")  # -p: keep the time, as SIS jobs often do
    result = subprocess.run(
        ["sftp", "-F", "/dev/null", "-P", str(drop.port), "-i", str(key_file), "-o", "IdentitiesOnly=yes",
         "-o", "BatchMode=yes", "-o", f"UserKnownHostsFile={known_hosts}", "-o", "StrictHostKeyChecking=yes",
         "-b", str(batch), "openssh-school@127.0.0.1"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    (bundle,) = received(drop, school)
    assert bundle.filename == "bundle.zip" and bundle.status == "valid", bundle.summary


def test_csv_files_waiting_for_their_set_are_handed_on_when_the_server_stops(app, drop):
    school = make_school(slug="stopping-school")
    make_csv_connection(school, csv_sync_on_receipt="nightly")
    _, password = _account(school)
    drop.drop.quiet_seconds = 60
    files = {name: content.encode() for name, content in bundle_files().items()}
    run(put_files(drop, "stopping-school", {"users.csv": files["users.csv"]}, password=password))
    assert received(drop, school, timeout=0.3) == []
    drop.loop.call_soon_threadsafe(drop.drop.finish_sets)
    (bundle,) = received(drop, school)
    assert bundle.filename == "1 CSV file: users.csv" and bundle.status == "invalid"
    assert "manifest" in bundle.summary.lower()


def test_setting_the_time_of_a_received_bundle_does_not_fail_the_upload(app, drop):
    school = make_school(slug="times-school")
    make_csv_connection(school, csv_sync_on_receipt="nightly")
    _, password = _account(school)

    async def upload():
        async with drop.connect("times-school", password) as conn:
            async with conn.start_sftp_client() as sftp:
                async with sftp.open("roster.zip", "wb") as remote:
                    await remote.write(_bundle())
                await asyncio.sleep(0.1)  # the bundle has left the folder
                await sftp.utime("roster.zip", (1_700_000_000, 1_700_000_000))  # as a client keeping the file time may
                with pytest.raises(asyncssh.SFTPNoSuchFile):
                    await sftp.utime("never-sent.zip", (1, 1))

    run(upload())
    (bundle,) = received(drop, school)
    assert bundle.status == "valid"


def test_a_keys_only_account_refuses_its_old_password_and_takes_its_key(app, drop):
    school = make_school(slug="keys-only")
    make_csv_connection(school, csv_sync_on_receipt="nightly")
    key = asyncssh.generate_private_key("ssh-ed25519")
    account, password = _account(school, keys=key.export_public_key().decode())
    accounts.remove_password(account, None)
    with pytest.raises(asyncssh.PermissionDenied):
        run(put_files(drop, "keys-only", {}, password=password))
    run(put_files(drop, "keys-only", {"roster.zip": _bundle()}, client_keys=[key]))
    (bundle,) = received(drop, school)
    assert bundle.status == "valid"


@pytest.mark.parametrize("method,says", [
    ("csv", "Send them as the SFTP user district_source_"),
    ("oneroster", "which reads the SIS's API, so files sent to mapped-school are not read"),
])
def test_the_old_account_of_a_school_now_on_a_district_source_refuses_uploads_saying_where_to_send(app, drop, method,
                                                                                                  says):
    """The upload succeeded, and the bundle was then refused on a page that no longer shows this account."""
    school = make_school(slug="mapped-school")
    make_csv_connection(school)
    _, password = _account(school)
    source = make_source(school.district, name="District feed", method=method)
    map_school(school, source, "s1")

    async def upload():
        async with drop.connect("mapped-school", password) as conn:
            async with conn.start_sftp_client() as sftp:
                with pytest.raises(asyncssh.SFTPError, match="now .* the district source District feed") as err:
                    async with sftp.open("roster.zip", "wb") as remote:
                        await remote.write(_bundle())
                assert says in str(err.value)

    run(upload())
    drop.drain()
    assert received(drop, school) == [] and _runs(school) == []
