"""The email report after a sync: one message per opted-in owner; a mail outage never fails the sync."""
import logging
import smtplib
import socket
from urllib.parse import urlencode

from flask import current_app, render_template
from flask_mail import Connection

from connectors.redact import redact_active
from store.db import db
from store.models import DistrictReportChoice, Person, RosterBundle, RosterConnection, SyncIssue, SyncRun
from store.secrets import redactor_for
from store.vocabulary import (SHOWN_COUNTS, duration_text, issue_kind_label, moment_text, outcome_label, run_kind,
                              trigger_label)

from . import bundle_report  # the bundle's lines in a CSV run's report (that module uses this one's mail helpers)
from .connection import get_connection
from .credentials import credentials_warning
from .email_message import EncodedMessage
from .mail_guard import never_raise
from .people_refs import people_by_source
from .thresholds import archive_hold

log = logging.getLogger(__name__)
ISSUES_SHOWN = 10
# A record the SIS sent malformed can be thousands of characters long; the run page has every detail in full.
ISSUE_ID_CHARS, ISSUE_MESSAGE_CHARS, ERROR_CHARS = 80, 300, 2000
# The site's status words (store.vocabulary.outcome_label); only a failure is shouted and a hold asks for you.
SUBJECT_STATUS = {"failed": "FAILED", "needs_review": "needs your review", "skipped": "was skipped"}
FAILURE_CHECKS = (
    "Open the Rostering page and run Test connection: each failing row says what to fix.",
    "Check that the Client ID and Secret in the portal still match the SIS (they change when a key is rotated).",
    "Check that the SIS's API permissions still allow reading every area the sync uses.",
    "Check that the SIS is up and reachable; a sync retries busy servers but gives up after several tries.",
)
# A school mapped to a district source: its Rostering page refuses Test connection and shows no credentials, so the
# owner is sent to the District Managers, and they to the source's page.
OWNER_SOURCE_CHECK = ("{school} syncs from the district's SIS source \"{source}\": its District Managers test it and "
                      "change its credentials on the district's Sources page, so forward this email to one of them.")
MANAGER_SOURCE_CHECK = ("Open the source \"{source}\" on the district's Sources page ({url}) and run Test connection: "
                        "each failing row says what to fix, and the SIS's schools are listed beside their mappings.")


class _TimedConnection(Connection):
    """flask-mail's connection with a time-out, so a hung mail server cannot hold a worker forever."""

    def configure_host(self):
        timeout = current_app.config.get("MAIL_TIMEOUT", 10)
        cls = smtplib.SMTP_SSL if self.mail.use_ssl else smtplib.SMTP
        host = cls(self.mail.server, self.mail.port, timeout=timeout)
        if self.mail.use_tls:
            host.starttls()
        if self.mail.username and self.mail.password:
            host.login(self.mail.username, self.mail.password)
        return host


def readable_mail_error(exc: Exception) -> str:
    """What went wrong with the mail server, in words an operator can act on (never a password)."""
    state = current_app.extensions["mail"]
    where = f"{state.server}:{state.port}"
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return f"The mail server {where} refused the login; check MAIL_USERNAME and MAIL_PASSWORD."
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return f"The mail server {where} refused the address(es) {', '.join(exc.recipients)}."
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return f"The mail server {where} did not answer in time; check that it is running."
    if isinstance(exc, ConnectionRefusedError):
        return (f"Could not connect to the mail server {where} (connection refused); check MAIL_SERVER and "
                f"MAIL_PORT and that the mail server is running.")
    if isinstance(exc, OSError) and not isinstance(exc, smtplib.SMTPException):
        return f"Could not reach the mail server {where} ({exc.strerror or exc}); check MAIL_SERVER and MAIL_PORT."
    return f"The mail server {where} refused the report ({type(exc).__name__}: {exc})."


def recipients_for(run: SyncRun) -> list[Person]:
    """Active owners of the run's school who asked for the report, and District Managers of its district who
    chose each school's report (jobs.digest), with an address."""
    owners = db.select(Person.id).where(Person.school_id == run.school_id, Person.role == "owner",
                                        Person.sync_report_opt_in.is_(True))
    managers = (db.select(Person.id).join(DistrictReportChoice, DistrictReportChoice.person_id == Person.id)
                .where(Person.role == "district_manager", Person.district_id == run.school.district_id,
                       DistrictReportChoice.mode == "each"))
    return list(db.session.scalars(db.select(Person).where(
        Person.id.in_(owners.union(managers)), Person.status == "active", Person.email != "").order_by(Person.id)))


def report_context(run: SyncRun) -> dict:
    school = run.school
    zone = school.district.zone
    base = current_app.config["PORTAL_BASE_URL"].rstrip("/")
    rows = list(db.session.scalars(db.select(SyncIssue).where(SyncIssue.run_id == run.id)
                                   .order_by(SyncIssue.id).limit(ISSUES_SHOWN)))
    refs = people_by_source(school.id, (issue.source_id for issue in rows))  # names beside ids, one query
    issues = []
    for issue in rows:
        ref = refs.get(issue.source_id)
        issues.append({
            "source_id": clip(issue.source_id or "(no id)", ISSUE_ID_CHARS), "kind": issue_kind_label(issue.kind),
            "who": f"{ref.name} ({ref.role_label})" if ref else "",
            "link": f"{base}/schools/{school.slug}/people?{urlencode({'q': ref.search})}" if ref else "",
            "message": clip(issue.message, ISSUE_MESSAGE_CHARS)})
    started = run.started_at or run.created_at
    bundle = db.session.get(RosterBundle, run.bundle_id) if run.bundle_id is not None else None
    return {**bundle_report.bundle_context(bundle),
        "run": run, "school": school, "issues": issues, "issue_total": max(run.issues or 0, len(issues)),
        "error_message": clip(run.error_message or "", ERROR_CHARS),
        "counts": [(run.read_from, run.fetched)] + [(label, getattr(run, name)) for name, label in SHOWN_COUNTS],
        "trigger": trigger_label(run.trigger), "title": f"{run_kind(run.trigger)} #{run.shown_number}",
        "status": outcome_label(run.status, run.issues),
        "started": f"{moment_text(started.astimezone(zone))} {started.astimezone(zone):%Z}" if started else "—",
        "duration": duration_text(run.duration_seconds),
        "run_url": f"{base}/schools/{school.slug}/rostering/runs/{run.id}",
        "failure_checks": bundle_report.CSV_FAILURE_CHECKS if bundle is not None else FAILURE_CHECKS,
        "source": None if bundle is not None else getattr(get_connection(school.id), "source", None),
        "hold": archive_hold(run, db.session.scalar(db.select(RosterConnection.archive_threshold_percent).where(
            RosterConnection.school_id == school.id))),  # a held run: the page's own sentence
        "credentials_warning": credentials_warning(get_connection(school.id)),
    }


def source_checks(context: dict, manager: bool) -> tuple[str, ...]:
    """What to check after a failed sync of a school on a district source, for whoever can act on it."""
    source, school = context["source"], context["school"]
    if not manager:
        return OWNER_SOURCE_CHECK.format(school=school.name, source=source.name), FAILURE_CHECKS[-1]
    url = f"{current_app.config['PORTAL_BASE_URL'].rstrip('/')}/districts/{source.district_id}/sources/{source.id}"
    return MANAGER_SOURCE_CHECK.format(source=source.name, url=url), *FAILURE_CHECKS[1:]


def clip(text: str, limit: int) -> str:
    """At most `limit` characters, with an ellipsis when something was cut."""
    text = text or ""
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def build_messages(run: SyncRun, people: list[Person]) -> list[EncodedMessage]:
    context = report_context(run)
    said = SUBJECT_STATUS.get(run.status) or context["status"].lower()
    subject = f"Rostering: {run.school.name} sync #{run.shown_number} {said}"
    # Run messages and issues carry SIS text: mask the saved secret, the run's tokens and any Authorization value.
    saved = redactor_for(get_connection(run.school_id))
    bodies = {}
    for manager in {p.role == "district_manager" for p in people}:  # the footer says why each one gets it
        # and the links: a district source's bundle page is the managers', an owner is sent to the school's own
        links = bundle_report.bundle_links(context["bundle"], run.school, for_manager=manager) \
            if context["bundle"] is not None else {}
        checks = {"failure_checks": source_checks(context, manager)} if context["source"] is not None else {}
        if context["bundle"] is not None and context["bundle"].source_id is not None:
            checks = {"failure_checks": bundle_report.csv_source_checks(context["bundle"], run.school, manager)}
            if not manager:
                links.update(bundle_report.owner_view(context["bundle"]))
        bodies[manager] = tuple(redact_active(saved(render_template(f"email/run_report.{kind}", **{
            **context, **links, **checks}, for_manager=manager))) for kind in ("txt", "html"))
    # One message per recipient: nobody sees another's address.
    return [EncodedMessage(subject, recipients=[p.email], body=bodies[p.role == "district_manager"][0],
                           html=bodies[p.role == "district_manager"][1]) for p in people]


def _record(run: SyncRun, status: str, error: str = "") -> None:
    run.report_status, run.report_error = status, error
    db.session.commit()


def send_run_report(run_id: int) -> None:
    """Email the run's result to opted-in owners once; records sent / not_sent / none_opted_in. Never raises."""
    never_raise(lambda: _send(run_id), f"report for sync run {run_id}", lambda: _record_internal_error(run_id))


def _record_internal_error(run_id: int) -> None:
    run = db.session.get(SyncRun, run_id)
    if run is not None and run.report_status != "sent":
        _record(run, "not_sent", "The report could not be prepared because of an internal error; "
                                 "the sync itself is unaffected.")


def _send(run_id: int) -> None:
    db.session.expire_all()
    run = db.session.get(SyncRun, run_id)
    if run is None or not run.is_final or run.trigger == "preview" or run.report_status == "sent":
        return
    people = recipients_for(run)
    if not people:
        _record(run, "none_opted_in")
        return
    missed, error = [], ""
    try:
        with _TimedConnection(current_app.extensions["mail"]) as connection:
            for person, message in zip(people, build_messages(run, people)):
                try:
                    connection.send(message)
                except smtplib.SMTPRecipientsRefused as exc:
                    missed.append(person.email)
                    error = readable_mail_error(exc)
    except (smtplib.SMTPException, OSError) as exc:
        error = readable_mail_error(exc)
        log.warning("report for sync run %s not sent: %s", run_id, error)
        _record(run, "not_sent", error)
        return
    if missed:
        _record(run, "not_sent", f"Sent to {len(people) - len(missed)} of {len(people)} owners. {error}")
    else:
        _record(run, "sent")
