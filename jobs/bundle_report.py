"""The CSV bundle in emails: its validation problems in a run's report, and a report of its own when a received
bundle was refused or has errors (no run starts then, so nobody would hear of it otherwise). A school's bundle goes
to its opted-in owners; a district CSV source's to the district's managers who chose email after district nights."""
import csv
import io
import logging
import smtplib

from flask import current_app, render_template

from store.db import db
from store.models import DistrictReportChoice, Person, RosterBundle

from . import report as reporting  # the run report includes bundle_context, so its helpers are read at call time
from .email_message import EncodedMessage

log = logging.getLogger(__name__)
PROBLEMS_SHOWN = 10
CSV_FAILURE_CHECKS = (
    "Open the Rostering page: the CSV bundles list shows each bundle's validation report, by file, line and column.",
    "Check that the School ID on the Rostering page is this school's sourcedId in orgs.csv.",
    "Export the bundle from the SIS again and send it whole; a transfer cut off midway is refused.",
)
# A school mapped to a district CSV source: its School ID is the mapping, set by the District Managers on the source's
# page, and the bundles are the source's (an owner gets 403 there), so the owner is sent to them and they to the page.
OWNER_CSV_SOURCE_CHECK = ("{school} takes its roster from the district's OneRoster CSV source \"{source}\": its "
                          "District Managers see each bundle's validation report and this school's mapping on the "
                          "district's Sources page, so forward this email to one of them.")
MANAGER_CSV_SOURCE_CHECKS = (
    "Open the source \"{source}\" on the district's Sources page ({url}): its CSV bundles list shows each bundle's "
    "validation report, by file, line and column.",
    "Check that this school's mapping on that page names its sourcedId in orgs.csv.",
    CSV_FAILURE_CHECKS[-1],
)


def csv_source_checks(bundle: RosterBundle, school, manager: bool) -> tuple[str, ...]:
    """What to check after a failed run of a school that reads a district CSV source's bundle, for who can act."""
    source = bundle.source
    if not manager:
        return (OWNER_CSV_SOURCE_CHECK.format(school=school.name, source=source.name),)
    url = f"{current_app.config['PORTAL_BASE_URL'].rstrip('/')}/districts/{source.district_id}/sources/{source.id}"
    return (MANAGER_CSV_SOURCE_CHECKS[0].format(source=source.name, url=url), *MANAGER_CSV_SOURCE_CHECKS[1:])


def bundle_context(bundle: RosterBundle | None) -> dict:
    """What the emails show of a bundle: its name, result, first problems and the links to the full report (as a
    District Manager or the school's owner opens them; a run report swaps in an owner's, see bundle_links)."""
    if bundle is None:
        return {"bundle": None}
    rows = list(csv.DictReader(io.StringIO(bundle.report_csv or "")))
    problems = [(row["severity"], reporting.clip(_where(row), 120),
                 reporting.clip(f"{row['problem']} {row['what_to_do']}", 400)) for row in rows[:PROBLEMS_SHOWN]]
    return {"bundle": bundle, "bundle_summary": bundle.summary, "bundle_problems": problems,
            "bundle_problem_total": len(rows), **bundle_links(bundle)}


def owner_view(bundle: RosterBundle) -> dict:
    """What an owner of a mapped school reads of the district source's bundle in a run report: the check's outcome
    and how many problems it has, not the problems themselves (they quote any school's records, and an owner of
    another school gets 404 for those)."""
    return {"bundle_summary": summary_for(bundle, manager=False), "bundle_problems": []}


def bundle_links(bundle: RosterBundle, school=None, *, for_manager: bool = True) -> dict:
    """The bundle's page and report.csv addresses for this reader: a district source's pages open to District
    Managers only, so an owner of a mapped school (`for_manager` False, `school` theirs) is sent to the school's
    Rostering page and gets no report.csv link."""
    base = current_app.config["PORTAL_BASE_URL"].rstrip("/")
    if bundle.source_id is None:
        page = f"{base}/schools/{bundle.school.slug}/rostering"
    elif for_manager:
        page = f"{base}/districts/{bundle.source.district_id}/sources/{bundle.source_id}"
    else:  # an owner of a mapped school: 403 on the source's pages
        return {"bundle_report_url": "", "bundle_page_url": f"{base}/schools/{school.slug}/rostering"}
    return {"bundle_report_url": f"{page}/bundles/{bundle.id}/report.csv", "bundle_page_url": f"{page}#csv-heading"}


def valid_summary(bundle: RosterBundle) -> str:
    """The first sentence of a valid bundle's summary (what a later step appends may name other schools)."""
    kind = "full roster (bulk)" if bundle.users_mode == "bulk" else "changes only (delta)"
    warned = f", {bundle.warning_count:,} warning{'s' if bundle.warning_count != 1 else ''}" \
        if bundle.warning_count else ""
    return f"Valid: OneRoster {bundle.version}, {kind}{warned}."


def summary_for(bundle: RosterBundle, *, manager: bool) -> str:
    """The bundle's summary for this reader. A district source's bundle, read by an owner of a mapped school: the
    check's outcome only, since the rest names the source's other schools (not synced, still syncing) and the first
    error may quote another school's record (an owner of another school gets 404 for those)."""
    if manager or bundle.source_id is None:
        return bundle.summary
    if bundle.status in ("valid", "synced"):
        return valid_summary(bundle)
    if bundle.status in ("invalid", "refused"):
        return ("Nothing was changed; your District Manager has the report of what to fix in the district's bundle "
                "on the district's Sources page.")
    return bundle.summary  # received: "Received; checking the files."


def _where(row: dict) -> str:
    parts = [row["file"] or "bundle"]
    if row["line"]:
        parts.append(f"line {row['line']}")
    if row["column"]:
        parts.append(f"column {row['column']}")
    return ", ".join(parts)


def _recipients(bundle: RosterBundle) -> list[Person]:
    """A school's opted-in owners; for a district source's bundle, its district's managers who chose an email after
    district nights (a digest or each school's report: jobs.digest), since no school's run will report it."""
    if bundle.source_id is None:
        return list(db.session.scalars(db.select(Person).where(
            Person.school_id == bundle.school_id, Person.role == "owner", Person.status == "active",
            Person.sync_report_opt_in.is_(True), Person.email != "").order_by(Person.id)))
    return list(db.session.scalars(db.select(Person).join(DistrictReportChoice,
                                                          DistrictReportChoice.person_id == Person.id).where(
        Person.district_id == bundle.source.district_id, Person.role == "district_manager",
        Person.status == "active", Person.email != "", DistrictReportChoice.mode.in_(("digest", "each")))
        .order_by(Person.id)))


def _about(bundle: RosterBundle) -> dict:
    """Who the bundle was sent for, in the email's words: the school, or the district source."""
    if bundle.source_id is None:
        school = bundle.school
        return {"owner_name": school.name, "zone": school.district.zone, "page_name": "the Rostering page",
                "why": f"you turned on sync reports for {school.name} on its Rostering page"}
    source = bundle.source
    return {"owner_name": source.name, "zone": source.district.zone, "page_name": "the district source's page",
            "why": "you chose email after district nights on the Rostering overview"}


def send_bundle_report(bundle_id: int) -> str:
    """Email those _recipients names that a received bundle was not applied; returns sent / not_sent / none_opted_in.

    Never raises: a mail problem must not undo the receipt (the page shows the same report)."""
    try:
        bundle = db.session.get(RosterBundle, bundle_id)
        people = _recipients(bundle)
        if not people:
            return "none_opted_in"
        context = {**bundle_context(bundle), **_about(bundle)}
        shown = " ".join(bundle.filename.split())[:60]  # an SFTP client names the file: no line breaks in a header
        subject = f"Rostering: {context['owner_name']} CSV bundle not applied ({shown})"
        text = render_template("email/bundle_report.txt", **context)
        html = render_template("email/bundle_report.html", **context)
        with reporting._TimedConnection(current_app.extensions["mail"]) as connection:
            for person in people:
                connection.send(EncodedMessage(subject, recipients=[person.email], body=text, html=html))
        return "sent"
    except (smtplib.SMTPException, OSError) as exc:
        log.warning("bundle report for bundle %s not sent: %s", bundle_id, reporting.readable_mail_error(exc))
        return "not_sent"
    except Exception:  # noqa: BLE001 - the receipt is recorded already; a report bug must not undo it
        log.exception("bundle report for bundle %s could not be built", bundle_id)
        return "not_sent"
