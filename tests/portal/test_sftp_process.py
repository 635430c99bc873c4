"""`python -m portal.sftp` as the Procfile starts it: makes its host key, takes an upload, stops on SIGTERM; refuses to
start in production without a provisioned key. And the demo's SFTP school, pushed to with the printed password."""
import os
import select
import signal
import stat
import subprocess
import sys
from pathlib import Path

import asyncssh

from jobs.sync import run_sync
from portal.cli import sftp_demo
from portal.sftp import accounts
from store.db import db
from store.models import Person, SftpAccount, SyncRun
from tests.connectors.csv_helpers import bundle_files, zip_bytes
from tests.factories import make_csv_connection, make_school
from tests.sftp_support import received, run, running_drop
from tests.support import DATABASE_URL, REDIS_URL, closed_port

ROOT = Path(__file__).resolve().parents[2]


def _environment(tmp_path, port, **extra) -> dict:
    env = {**os.environ, "DATABASE_URL": DATABASE_URL, "REDIS_URL": REDIS_URL, "SFTP_PORT": str(port),
           "SFTP_HOST": "127.0.0.1", "SFTP_ROOT": str(tmp_path / "sftp"), "SFTP_HOST_KEY": str(tmp_path / "key"),
           "BUNDLE_DIR": str(tmp_path / "bundles"), "SECRET_KEY": "test-secret-key",
           "PORTAL_FERNET_KEYS": "kR3aAqf0Zp9dlk5P5b1jmxz7vKAn6UqS3dC0w3xPfl8=", "PORTAL_ENV": "test"}
    env.update(extra)
    return env


def _first_line(process, timeout=30) -> str:
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    assert ready, "the SFTP server printed nothing"
    return process.stdout.readline()


def test_the_server_process_makes_its_key_takes_an_upload_and_stops_cleanly(app, tmp_path):
    school = make_school(slug="process-school")
    make_csv_connection(school, csv_sync_on_receipt="nightly")
    app.config["SFTP_ROOT"] = str(tmp_path / "sftp")
    _, password = accounts.create_account(school, None)
    port = closed_port()
    process = subprocess.Popen([sys.executable, "-m", "portal.sftp"], cwd=ROOT, env=_environment(tmp_path, port),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = _first_line(process)
        key_file = tmp_path / "key"
        public = asyncssh.read_public_key(f"{key_file}.pub")
        assert f"listening on 127.0.0.1:{port}" in line and public.get_fingerprint("sha256") in line
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600

        async def upload():
            async with asyncssh.connect("127.0.0.1", port, username="process-school", password=password,
                                        known_hosts=([public], [], []), client_keys=None, agent_path=None,
                                        config=None) as conn:
                async with conn.start_sftp_client() as sftp:
                    async with sftp.open("roster.zip", "wb") as remote:
                        await remote.write(zip_bytes(bundle_files()))

        run(upload())
        (bundle,) = received(None, school, timeout=20)
        assert bundle.via == "sftp" and bundle.status == "valid", bundle.summary
        assert bundle.stored_path.startswith(str(tmp_path / "bundles"))
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0, process.stderr.read()


def test_production_refuses_to_start_without_a_provisioned_host_key(tmp_path):
    env = _environment(tmp_path, closed_port(), PORTAL_ENV="production",
                       SECRET_KEY="a-real-secret-for-this-test", SFTP_HOST_KEY=str(tmp_path / "missing_key"))
    result = subprocess.run([sys.executable, "-m", "portal.sftp"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode != 0
    assert "does not exist" in result.stderr and "ssh-keygen -t ed25519" in result.stderr
    assert not (tmp_path / "missing_key").exists()


def test_the_demo_school_takes_the_demo_bundle_with_the_printed_password(app, runner, bundle_store, tmp_path,
                                                                          monkeypatch):
    monkeypatch.setattr(sftp_demo, "DEMO_BUNDLE", tmp_path / "sftp-demo-bundle.zip")
    app.config["SFTP_ROOT"] = str(tmp_path / "sftp")  # the account's folder too
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if "SFTP drop of Washington Elementary" in x)
    password = line.rsplit(" / ", 1)[1]
    assert "sftp -P 2222 washington-elementary@127.0.0.1" in line
    assert db.session.scalar(db.select(SftpAccount)).check_password(password)
    with running_drop(app, tmp_path) as drop:
        async def push():
            async with drop.connect("washington-elementary", password) as conn:
                async with conn.start_sftp_client() as sftp:
                    await sftp.put(str(tmp_path / "sftp-demo-bundle.zip"), "sftp-demo-bundle.zip")
        run(push())
        school = db.session.scalar(db.select(SftpAccount)).school
        (bundle,) = received(drop, school)
    assert bundle.status == "valid", bundle.summary
    (sync_run,) = db.session.scalars(db.select(SyncRun).where(SyncRun.school_id == school.id)).all()
    run_sync(sync_run.id)
    db.session.expire_all()
    rostered = db.session.scalars(db.select(Person).where(Person.school_id == school.id,
                                                          Person.source_id.is_not(None))).all()
    assert len(rostered) == 26 and {p.role for p in rostered} == {"student", "teacher"}
    again = runner.invoke(args=["seed-demo"])  # seeding twice: a new password, the same account
    assert again.exit_code == 0 and db.session.scalar(db.select(db.func.count(SftpAccount.id))) == 1
