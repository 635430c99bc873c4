"""Connect the demo schools to the sandbox SIS, turn on Automatic Rostering and the owner's report.

Starts nothing: it reads the JSON line the sandbox printed (instance/sandbox.json), saves both
connections through the roster service, and is safe to run again. Run after `flask seed-demo`.
"""
import argparse
import json
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

from portal import create_app
from jobs.connection import get_connection
from portal.rostering import service
from portal.sources import service as sources
from store.db import db
from store.models import Person, School
from store.vocabulary import SYNC_TOGGLES

INSTANCE = Path(__file__).resolve().parent.parent / "instance"
SCHOOLS = ("lincoln-high", "roosevelt-middle")
OWNER = "owner@demo.school"
SETTING_NAMES = tuple(toggle.column for toggle in SYNC_TOGGLES) + ("archive_threshold_percent",)


def read_sandbox(path: Path, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return json.loads(path.read_text().splitlines()[0])
        except (OSError, IndexError, ValueError):
            time.sleep(0.2)
    raise SystemExit(f"No sandbox details in {path}; start `python -m connectors.sandbox ... | tee {path}`.")


def configure(school: School, info: dict, index: int, sync_time: str) -> str:
    values = {"url": info["base_url"] + "/", "client_id": info["client_id"],
              "client_secret": info["client_secret"], "school_id": info["school_ids"][index]}
    conn = get_connection(school)
    if conn is not None and conn.source is not None:  # an upgraded demo: the migration moved it into a source
        return configure_mapped(school, conn, info, values)
    conn = service.save_connection(school, info["vendor"], values, actor=None)
    current = {name: getattr(conn, name) for name in SETTING_NAMES}
    service.save_sync_settings(conn, **current, automatic=True, sync_time=sync_time, actor=None)
    return f"{school.name}: {info['vendor']} school {values['school_id']}, Automatic Rostering on at {sync_time}"


def configure_mapped(school: School, conn, info: dict, values: dict) -> str:
    """Keep the district source on today's sandbox credentials and the school in its nights."""
    source = conn.source
    sources.save_source(school.district, info["vendor"], values, None, source=source, name=source.name,
                        automatic=True, sync_time=source.sync_time)
    current = {name: getattr(conn, name) for name in SETTING_NAMES}
    service.save_sync_settings(conn, **current, automatic=True, sync_time=conn.sync_time, actor=None)
    return (f"{school.name}: syncs from the district source {source.name} as SIS school {conn.sis_school_id}, "
            f"nightly at {source.sync_time}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sandbox-json", default=str(INSTANCE / "sandbox.json"))
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--first-time", default="02:00", help="Lincoln High's nightly time (local)")
    parser.add_argument("--second-in-minutes", type=int, default=3,
                        help="Roosevelt Middle's nightly time: this many minutes from now (local)")
    args = parser.parse_args(argv)
    info = read_sandbox(Path(args.sandbox_json), args.timeout)
    app = create_app()
    with app.app_context():
        schools = [db.session.scalar(db.select(School).filter_by(slug=slug)) for slug in SCHOOLS]
        if None in schools:
            raise SystemExit("The demo schools are missing; run `flask --app wsgi seed-demo` first.")
        soon = datetime.now(schools[1].district.zone) + timedelta(minutes=args.second_in_minutes)
        for index, (school, at) in enumerate(zip(schools, (args.first_time, f"{soon:%H:%M}"))):
            print(configure(school, info, index, at), flush=True)
        owner = db.session.scalar(db.select(Person).filter_by(email=OWNER))
        if owner is not None:
            owner.sync_report_opt_in = True
            db.session.commit()
            print(f"{OWNER} gets the email report after each sync of {owner.school.name}.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
