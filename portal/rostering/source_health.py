"""A mapped school's view of its source's health: the source's newest district night and this school's run in it."""
from flask_login import current_user

from jobs.bundle_report import summary_for
from store.db import db
from store.models import RosterBundle, RosterConnection, SourceNight, SourceNightRun, SyncRun

from ..status.nights import OUTCOMES


def last_night(conn: RosterConnection | None) -> dict | None:
    """{"night", "outcome", "run"} for the source's newest night (run: this school's, if it took part)."""
    if conn is None or conn.source_id is None:
        return None
    night = db.session.scalar(db.select(SourceNight).where(SourceNight.source_id == conn.source_id)
                              .order_by(SourceNight.id.desc()).limit(1))
    if night is None:
        return None
    run = db.session.scalar(db.select(SyncRun).join(SourceNightRun, SourceNightRun.run_id == SyncRun.id).where(
        SourceNightRun.night_id == night.id, SourceNightRun.school_id == conn.school_id))
    return {"night": night, "outcome": OUTCOMES.get(night.status, night.status), "run": run}


def last_source_bundle(conn: RosterConnection | None) -> RosterBundle | None:
    """A school mapped to a district CSV source: the newest bundle the source received (any result)."""
    if conn is None or conn.source_id is None:
        return None
    return db.session.scalar(db.select(RosterBundle).where(RosterBundle.source_id == conn.source_id)
                             .order_by(RosterBundle.received_at.desc(), RosterBundle.id.desc()).limit(1))


def source_bundle_summary(bundle: RosterBundle | None) -> str:
    """The district bundle's summary as a mapped school's page shows it to the signed-in reader."""
    if bundle is None:
        return ""
    return summary_for(bundle, manager=current_user.role == "district_manager")
