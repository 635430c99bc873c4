"""Two connections sending one file name (the SIS retrying on a new connection while the old one is still open):
each handle writes a part file of its own, renamed onto the name only when that handle closes, so neither upload
mixes into, truncates or deletes the other's bytes. Real asyncssh server, real SSH client."""
import asyncio
import os

import asyncssh
import pytest

from portal.sftp import accounts
from tests.connectors.csv_helpers import bundle_files, user_row, users, zip_bytes
from tests.sftp_support import csv_school_account, received, run


def _two_bundles():
    one = zip_bytes(bundle_files())
    two = zip_bytes(bundle_files(users(user_row("u1"), user_row("u2", given="Ana"), user_row("u3", given="Li"))))
    assert len(one) != len(two)
    return one, two


def test_two_connections_writing_one_name_each_deliver_their_whole_file(app, drop):
    # Both handles were one file on disk: the second open truncated the first's bytes, their writes interleaved, and
    # the first close took the mixture away as the bundle.
    school, _, password = csv_school_account("two-writers")
    one, two = _two_bundles()

    async def upload():
        async with drop.connect("two-writers", password) as first, drop.connect("two-writers", password) as second:
            sftp_one, sftp_two = await first.start_sftp_client(), await second.start_sftp_client()
            a, b = await sftp_one.open("roster.zip", "wb"), await sftp_two.open("roster.zip", "wb")
            for at in range(0, max(len(one), len(two)), 64):
                if at < len(one):
                    await a.write(one[at:at + 64], at)
                if at < len(two):
                    await b.write(two[at:at + 64], at)
            assert set(await sftp_two.listdir("/")) == {".", ".."}  # nothing half-sent shows under any name
            await a.close()
            await b.close()

    run(upload())
    first, second = received(drop, school, count=2)
    assert [(bundle.status, bundle.size) for bundle in (first, second)] == [("valid", len(one)), ("valid", len(two))]
    assert os.listdir(accounts.folder_of("two-writers")) == []
    assert list((drop.drop.parts / "two-writers").iterdir()) == []


def test_an_aborted_upload_removes_only_its_own_part_not_the_retry_of_that_name(app, drop):
    # The old connection drops while the retry (same name) is half sent, and then the retry is refused as too large:
    # each removes its own part only, and the third try, sent whole, is the one bundle taken in.
    school, _, password = csv_school_account("abort-own")
    one, _ = _two_bundles()
    drop.drop.max_bytes = len(one) + 100

    async def upload():
        old = await drop.connect("abort-own", password)
        stale = await (await old.start_sftp_client()).open("roster.zip", "wb")
        await stale.write(one[:100])
        async with drop.connect("abort-own", password) as conn:
            async with conn.start_sftp_client() as sftp:
                retry = await sftp.open("roster.zip", "wb")
                await retry.write(one[:200])
                too_big = await sftp.open("roster.zip", "wb")
                old.abort()
                await asyncio.sleep(0.3)  # the server ends the old connection now
                with pytest.raises(asyncssh.SFTPError, match="larger than"):
                    await too_big.write(b"x" * (len(one) + 200))
                await too_big.close()
                await retry.write(one[200:], 200)
                await retry.close()

    run(upload())
    cut_off, bundle = received(drop, school, count=2)
    assert cut_off.status == "refused" and "cut off after 100 bytes" in cut_off.summary
    assert (bundle.status, bundle.size) == ("valid", len(one))
    assert list((drop.drop.parts / "abort-own").iterdir()) == []


def test_a_resumed_upload_continues_the_file_already_there(app, drop):
    # A client resuming (OpenSSH's reput, WinSCP's resume) opens the name it sent part of without truncating: the
    # handle's part starts as a copy of that file, so the appended rest makes the whole bundle.
    school, _, password = csv_school_account("resume")
    one, _ = _two_bundles()

    async def upload():
        async with drop.connect("resume", password) as conn:
            async with conn.start_sftp_client() as sftp:
                async with sftp.open("roster.zip.part", "wb") as remote:
                    await remote.write(one[:150])
                async with sftp.open("roster.zip.part", "ab") as remote:
                    await remote.write(one[150:])
                await sftp.rename("roster.zip.part", "roster.zip")

    run(upload())
    (bundle,) = received(drop, school)
    assert (bundle.status, bundle.size) == ("valid", len(one))


def test_a_part_left_by_an_earlier_run_is_removed_at_start_and_listed_under_its_name(app, drop):
    school, _, _ = csv_school_account("left-part")
    folder = drop.drop.parts / "left-part"
    folder.mkdir()
    (folder / "0123abcd-roster.zip").write_bytes(b"PK half")

    async def sweep():
        return drop.drop.sweep()

    assert asyncio.run_coroutine_threadsafe(sweep(), drop.loop).result(10) == 1
    (bundle,) = received(drop, school)
    assert (bundle.status, bundle.filename) == ("refused", "roster.zip") and "server stopped" in bundle.summary
    assert list(folder.iterdir()) == []
