"""District Managers' emails after a district night: one digest for the district (a row per school), or each
school's own run report (jobs.report), as each manager chose. A mail outage never fails the night."""
import logging
import smtplib

from flask import current_app, render_template

from connectors.redact import redact_active
from store.db import db
from store.models import DistrictReportChoice, Person, School, Source, SourceNight
from store.vocabulary import duration_text, outcome_label

from .email_message import EncodedMessage
from .mail_guard import never_raise
from .report import ERROR_CHARS, _TimedConnection, clip, readable_mail_error
from .thresholds import archive_hold

MODES = ("digest", "each", "")  # "" : neither (the default)
log = logging.getLogger(__name__)


def managers_choosing(district_id: int, mode: str) -> list[Person]:
    """Active District Managers of the district with an address who chose `mode`."""
    return list(db.session.scalars(db.select(Person).join(DistrictReportChoice,
                                                          DistrictReportChoice.person_id == Person.id)
                                   .where(Person.district_id == district_id, Person.role == "district_manager",
                                          Person.status == "active", Person.email != "",
                                          DistrictReportChoice.mode == mode).order_by(Person.id)))


def report_choice(person: Person) -> str:
    return db.session.scalar(db.select(DistrictReportChoice.mode).filter_by(person_id=person.id)) or ""


def set_report_choice(person: Person, mode: str) -> None:
    """Save a manager's choice ("digest", "each" or "" for none); ValueError for anything else."""
    if mode not in MODES:
        raise ValueError("Choose one digest for the district, each school's report, or no email.")
    row = db.session.get(DistrictReportChoice, person.id)
    if not mode:
        if row is not None:
            db.session.delete(row)
    elif row is None:
        db.session.add(DistrictReportChoice(person_id=person.id, mode=mode))
    else:
        row.mode = mode
    db.session.commit()


def digest_context(night: SourceNight) -> dict:
    from .district_night import night_runs
    source = db.session.get(Source, night.source_id)
    district = source.district
    base = current_app.config["PORTAL_BASE_URL"].rstrip("/")
    rows = []
    for run in night_runs(night.id):
        school = db.session.get(School, run.school_id)
        note = ""
        if run.status == "needs_review":
            note = archive_hold(run, run.archive_threshold_applied).sentence() + "; approve or discard it"
        elif run.status in ("failed", "skipped"):
            note = clip(run.error_message, ERROR_CHARS // 4)
        rows.append({"school": school.name, "status": outcome_label(run.status, run.issues), "run": run,
                     "note": note, "url": f"{base}/schools/{school.slug}/rostering/runs/{run.id}"})
    took = (night.finished_at - night.started_at).total_seconds() if night.finished_at and night.started_at else None
    return {"night": night, "source": source, "district": district, "rows": rows,
            "succeeded": sum(r["run"].status == "succeeded" for r in rows),
            "held": sum(r["run"].status == "needs_review" for r in rows),
            "failed": sum(r["run"].status == "failed" for r in rows),
            "duration": duration_text(took), "error_message": clip(night.error_message, ERROR_CHARS),
            "overview_url": f"{base}/districts/{district.id}/rostering"}


def build_digest(night: SourceNight, people: list[Person]) -> list[EncodedMessage]:
    context = digest_context(night)
    subject = (f"Rostering: {context['district'].name} night — {context['succeeded']} of {len(context['rows'])} "
               "schools synced")
    text = redact_active(render_template("email/night_digest.txt", **context))
    html = redact_active(render_template("email/night_digest.html", **context))
    return [EncodedMessage(subject, recipients=[p.email], body=text, html=html) for p in people]


INTERNAL_ERROR = "The digest could not be prepared because of an internal error; the night itself is unaffected."


def send_night_digest(night_id: int) -> None:
    """Email the digest once to the managers who chose it; records sent / not_sent / none_opted_in."""
    never_raise(lambda: _send(night_id), f"digest for source night {night_id}", lambda: _record(night_id, "not_sent", INTERNAL_ERROR))


def _record(night_id: int, status: str, error: str = "") -> None:
    db.session.execute(db.update(SourceNight).where(SourceNight.id == night_id)
                       .values(digest_status=status, digest_error=clip(error, ERROR_CHARS)))
    db.session.commit()


def _send(night_id: int) -> None:
    db.session.expire_all()
    night = db.session.get(SourceNight, night_id)
    if night is None or night.digest_status == "sent":
        return
    source = db.session.get(Source, night.source_id)
    people = managers_choosing(source.district_id, "digest")
    if not people:
        _record(night_id, "none_opted_in")
        return
    try:
        with _TimedConnection(current_app.extensions["mail"]) as connection:
            for message in build_digest(night, people):
                connection.send(message)
    except (smtplib.SMTPException, OSError) as exc:
        error = readable_mail_error(exc)
        log.warning("digest for source night %s not sent: %s", night_id, error)
        _record(night_id, "not_sent", error)
        return
    _record(night_id, "sent")

