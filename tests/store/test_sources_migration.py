"""The district-sources migration on PostgreSQL: connections that share an SIS and credentials become one source,
with every setting and secret kept; downgrade puts the credentials back on each school."""
import importlib.util
from datetime import datetime, timezone
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from flask_migrate import downgrade, upgrade
from sqlalchemy import make_url
from sqlalchemy import text as sql

from connectors.profiles import get_profile
from jobs.connection import get_connection, settings_for
from portal import create_app
from portal.schema import rebuild_schema
from store.db import db
from store.secrets import decrypt_secret, encrypt_secret
from tests.support import DATABASE_URL, app_config, ensure_database

_FILE = Path(__file__).resolve().parents[2] / "migrations" / "versions" / "d8e1f4a7b2c6_district_sources.py"
_spec = importlib.util.spec_from_file_location("district_sources_migration", _FILE)
MIGRATION = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(MIGRATION)
BEFORE = MIGRATION.down_revision  # whatever the lead chains it after

pytestmark = pytest.mark.skipif(make_url(DATABASE_URL).get_backend_name() != "postgresql",
                                reason="the migration is tested on PostgreSQL")
AERIES = {"vendor": "aeries", "url": "https://demo.aeries.net/aeries/", "client_id": "district-client"}
CAMPUS = {"vendor": "infinite-campus", "url": "https://campus.example.org/campus/api/oneroster/v1p1/minga",
          "client_id": "campus-client", "app_name": "minga",
          "token_url": "https://campus.example.org/campus/oauth2/token?appName=minga"}
# Each school's own sync settings; all differ so that a mix-up shows.
SETTINGS = {
    "lincoln": dict(sync_parents=True, auto_update=True, archive=True, archive_threshold_percent=5.0,
                    no_update_roles="teacher", automatic=True, sync_time="03:30", sis="994"),
    "roosevelt": dict(sync_staff=False, archive_threshold_percent=12.5, no_archive_roles="staff,teacher",
                      automatic=True, sync_time="01:15", sis="5"),
    "adams": dict(additions_only=True, automatic=False, sync_time="00:10", sis="7"),
    "other-secret": dict(automatic=False, sync_time="04:00", sis="8"),
    "campus": dict(sync_admins=False, automatic=False, sync_time="05:00", sis="CE8DF1FC-3242-4716-A5F5-5A957F86DC36"),
    "unreadable": dict(automatic=True, sync_time="02:45", sis="9"),
    "no-secret": dict(automatic=False, sync_time="02:00", sis="10"),
    "elsewhere": dict(automatic=True, sync_time="02:00", sis="994"),
}
KEPT = ("sync_students", "sync_teachers", "sync_staff", "sync_admins", "sync_parents", "auto_update", "archive",
        "additions_only", "archive_threshold_percent", "no_update_roles", "no_archive_roles", "automatic",
        "sync_time", "sis_school_id")


@pytest.fixture
def migrating_app():
    """An app on a database of its own, built up to the revision before the sources migration."""
    url = make_url(DATABASE_URL)
    url = url.set(database=f"{url.database}_sources_migration").render_as_string(hide_password=False)
    ensure_database(url)
    app = create_app(app_config(SQLALCHEMY_DATABASE_URI=url))
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade(revision=BEFORE)
        yield app
        db.session.remove()
        rebuild_schema()  # leave it at the newest revision for the next run's fixture
        db.engine.dispose()


def _insert_school(conn, district_id, slug, secret, creds):
    settings = dict(SETTINGS[slug])
    sis = settings.pop("sis")
    school_id = conn.execute(sql("INSERT INTO school (district_id, name, slug) VALUES (:d, :n, :s) RETURNING id"),
                             {"d": district_id, "n": slug.title(), "s": slug}).scalar_one()
    row = dict(school_id=school_id, method="oneroster", vendor="aeries", url="", token_url="", auth_mode="oauth2",
               client_id="", secret_encrypted=secret, sis_school_id=sis, app_name="", scope="",
               sync_students=True, sync_teachers=True, sync_staff=True, sync_admins=True, sync_parents=False,
               auto_update=False, archive=False, additions_only=False, archive_threshold_percent=10.0,
               no_update_roles="", no_archive_roles="", automatic=False, sync_time="02:00",
               settings_changed_at=datetime(2026, 1, 1, tzinfo=timezone.utc),
               created_at=datetime(2026, 1, 1, tzinfo=timezone.utc), updated_at=datetime(2026, 1, 1, tzinfo=timezone.utc))
    row.update(creds)
    row.update(settings)
    columns = ", ".join(row)
    conn.execute(sql(f"INSERT INTO roster_connection ({columns}) VALUES ({', '.join(':' + c for c in row)})"), row)
    return school_id


def _seed():
    """Two districts: one SIS shared by three schools (each secret encrypted on its own), and the odd ones out."""
    with db.engine.begin() as conn:
        demo = conn.execute(sql("INSERT INTO district (name, timezone) VALUES ('Demo Unified', 'America/Los_Angeles') "
                                "RETURNING id")).scalar_one()
        other = conn.execute(sql("INSERT INTO district (name, timezone) VALUES ('Far Away', 'America/New_York') "
                                 "RETURNING id")).scalar_one()
        stranger = Fernet(Fernet.generate_key()).encrypt(b"shared-secret")  # a key the app does not hold
        ids = {
            "lincoln": _insert_school(conn, demo, "lincoln", encrypt_secret("shared-secret"), AERIES),
            "roosevelt": _insert_school(conn, demo, "roosevelt", encrypt_secret("shared-secret"), AERIES),
            "adams": _insert_school(conn, demo, "adams", encrypt_secret("shared-secret"),
                                    {**AERIES, "url": "https://demo.aeries.net/aeries"}),  # no trailing slash
            "other-secret": _insert_school(conn, demo, "other-secret", encrypt_secret("another-secret"), AERIES),
            "campus": _insert_school(conn, demo, "campus", encrypt_secret("campus-secret"), CAMPUS),
            "unreadable": _insert_school(conn, demo, "unreadable", stranger, AERIES),
            "no-secret": _insert_school(conn, demo, "no-secret", None, {"url": "", "client_id": ""}),
            "elsewhere": _insert_school(conn, other, "elsewhere", encrypt_secret("shared-secret"), AERIES),
        }
    return ids


def _rows(table, order="id"):
    with db.engine.connect() as conn:
        return [row._asdict() for row in conn.execute(sql(f"SELECT * FROM {table} ORDER BY {order}"))]


def test_connections_sharing_an_sis_and_credentials_become_one_source_with_every_setting_kept(migrating_app):
    ids = _seed()
    before = {row["school_id"]: row for row in _rows("roster_connection")}
    upgrade(revision=MIGRATION.revision)

    sources = {row["id"]: row for row in _rows("source")}
    conns = {row["school_id"]: row for row in _rows("roster_connection")}
    source_of = {slug: conns[school_id]["source_id"] for slug, school_id in ids.items()}
    # One source for the three schools on one Aeries with one secret, however their ciphertexts differ.
    assert source_of["lincoln"] == source_of["roosevelt"] == source_of["adams"] is not None
    # A different secret, another vendor, an unreadable secret, another district: each a source of its own.
    alone = [source_of[s] for s in ("other-secret", "campus", "unreadable", "elsewhere")]
    assert len(set(alone) | {source_of["lincoln"]}) == 5 and None not in alone
    assert source_of["no-secret"] is None  # nothing to connect with: left as it was
    assert len(sources) == 5

    shared = sources[source_of["lincoln"]]
    assert shared["name"] == "Demo Unified — Aeries"
    assert (shared["vendor"], shared["url"], shared["client_id"]) == ("aeries", AERIES["url"], "district-client")
    assert decrypt_secret(shared["secret_encrypted"]) == "shared-secret"
    assert shared["automatic"] is True and shared["sync_time"] == "01:15"  # earliest of its automatic schools
    assert shared["oneroster_version"] == "1.1"
    assert sources[source_of["campus"]]["automatic"] is False
    assert sources[source_of["campus"]]["sync_time"] == "05:00"
    assert (sources[source_of["campus"]]["app_name"], sources[source_of["campus"]]["token_url"]) == \
        ("minga", CAMPUS["token_url"])
    assert sources[source_of["elsewhere"]]["district_id"] != shared["district_id"]
    names = {row["name"] for row in sources.values() if row["district_id"] == shared["district_id"]}
    assert len(names) == 4  # unique within the district

    for slug, school_id in ids.items():
        for column in KEPT:
            assert conns[school_id][column] == before[school_id][column], (slug, column)
    assert conns[ids["lincoln"]]["secret_encrypted"] is None  # the secret now lives once, on the source
    assert conns[ids["no-secret"]]["url"] == before[ids["no-secret"]]["url"]

    downgrade(revision=BEFORE)
    restored = {row["school_id"]: row for row in _rows("roster_connection")}
    for slug, school_id in ids.items():
        for column in (*KEPT, "vendor", "client_id", "app_name", "token_url", "auth_mode"):
            assert restored[school_id][column] == before[school_id][column], (slug, column)
    assert decrypt_secret(restored[ids["roosevelt"]]["secret_encrypted"]) == "shared-secret"
    assert restored[ids["adams"]]["url"] == AERIES["url"]  # the source's spelling of the same URL

    # Up again and on to the newest schema: each mapped school's settings are exactly what it had.
    upgrade(revision="heads")
    expected = {
        "lincoln": ("https://demo.aeries.net/aeries", "994", "shared-secret"),
        "roosevelt": ("https://demo.aeries.net/aeries", "5", "shared-secret"),
        "campus": (CAMPUS["url"], SETTINGS["campus"]["sis"], "campus-secret"),
        "elsewhere": ("https://demo.aeries.net/aeries", "994", "shared-secret"),
    }
    for slug, (base_url, sis, secret) in expected.items():
        conn = get_connection(ids[slug])
        assert conn.source_id is not None
        settings = settings_for(conn)
        assert (settings.base_url, settings.school_id, settings.client_secret) == (base_url, sis, secret), slug
        profile = get_profile(conn.source.vendor)
        assert settings == profile.normalise(profile.from_saved(conn.credentials, secret), allow_loopback_http=True)
