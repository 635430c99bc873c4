"""The demo's SFTP school: Washington Elementary on the OneRoster CSV method with an SFTP account (a new password
each seed, printed with the demo sign-ins) and a small bundle under instance/ to push with `sftp`."""
import csv
import io
import zipfile
from pathlib import Path

from store.db import db
from store.models import School

from ..config import INSTANCE_DIR
from ..rostering.csv_method import save_csv_connection
from ..sftp import accounts

SLUG, NAME, SIS_ID = "washington-elementary", "Washington Elementary School", "wash-el"
DEMO_BUNDLE = INSTANCE_DIR / "sftp-demo-bundle.zip"
USERS_HEADER = ["sourcedId", "status", "dateLastModified", "enabledUser", "orgSourcedIds", "role", "username",
                "userIds", "givenName", "familyName", "middleName", "identifier", "email", "sms", "phone",
                "agentSourcedIds", "grades", "password"]
GIVEN = ["Ava", "Ben", "Chloe", "Diego", "Emma", "Farah", "Gus", "Hana", "Ivan", "Jade", "Kofi", "Lena"]
FAMILY = ["Garcia", "Nguyen", "Smith", "Okafor", "Kim", "Patel", "Rossi", "Cohen"]


def _rows(writer_rows) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(writer_rows)
    return out.getvalue()


def demo_bundle(path: Path | None = None, students: int = 24) -> Path:
    """manifest.csv, orgs.csv and users.csv (bulk, OneRoster 1.1) for the demo school: students and two teachers."""
    users = [USERS_HEADER]
    for i in range(students):
        given, family = GIVEN[i % len(GIVEN)], FAMILY[(i * 5) % len(FAMILY)]
        users.append([f"st{i:03d}", "active", "", "true", SIS_ID, "student", f"st{i:03d}", "", given, family, "",
                      f"{1000 + i}", f"{given}.{family}{i}@students.demo.school".lower(), "", "", "", str(i % 6), ""])
    for i, (given, family) in enumerate((("Maya", "Brooks"), ("Tom", "Alvarez"))):
        users.append([f"tc{i}", "active", "", "true", SIS_ID, "teacher", f"tc{i}", "", given, family, "", "",
                      f"{given}.{family}@demo.school".lower(), "", "", "", "", ""])
    files = {
        "manifest.csv": _rows([["propertyName", "value"], ["manifest.version", "1.0"], ["oneroster.version", "1.1"],
                               ["file.orgs", "bulk"], ["file.users", "bulk"]]),
        "orgs.csv": _rows([["sourcedId", "status", "dateLastModified", "name", "type", "identifier", "parentSourcedId"],
                           ["demo-district", "active", "", "Demo Unified", "district", "", ""],
                           [SIS_ID, "active", "", NAME, "school", "301", "demo-district"]]),
        "users.csv": _rows(users),
    }
    path = Path(path or DEMO_BUNDLE)
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return path


def seed_sftp_school(district, create_school) -> dict:
    """The school, its CSV method (synced on receipt) and SFTP account with a fresh password; idempotent."""
    school = db.session.scalar(db.select(School).filter_by(slug=SLUG)) or create_school(district.name, NAME, SLUG)
    save_csv_connection(school, {"sis_school_id": SIS_ID, "csv_sync_on_receipt": "now"}, None)
    account = accounts.account_of(school)
    if account is None:
        account, password = accounts.create_account(school, None)
    else:
        password = accounts.reset_password(account, None)
    return {"school": school, "username": account.username, "password": password, "bundle": demo_bundle()}
