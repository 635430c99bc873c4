"""`flask roster configure|test|sync|tick` and `flask rotate-secrets`: rostering without the web page."""
import json
import sys
from datetime import datetime

import click
from flask.cli import AppGroup, with_appcontext

from connectors.errors import InvalidSettings
from connectors.profiles import PROFILES
from jobs.connection import NotConfigured, get_connection, saved_values
from jobs.runs import SyncAlreadyRunning, create_run
from jobs.bundle_files import latest_usable_bundle
from jobs.bundle_nights import start_bundle_night
from jobs.district_night import NightAlreadyRunning, night_runs, open_night, run_night_now
from jobs.schedule import run_tick
from jobs.source_bundles import CSV_SOURCE, mapped_csv_connections
from jobs.sync import run_sync
from jobs.thresholds import parse_threshold_override
from store.db import db
from store.models import RUN_COUNTS, District, School, Source, SourceNight, SyncRun
from store.secrets import redactor_for, rotate_secrets
from store.vocabulary import SYNC_TOGGLES, outcome_label, run_kind

from ..rostering import service, share

roster_cli = AppGroup("roster", help="Configure, test and run roster syncs from the command line.")
OPTION_FOR = {"url": "--url", "client_id": "--client-id", "client_secret": "--client-secret",
              "school_id": "--sis-school-id", "app_name": "--app-name", "token_url": "--token-url",
              "auth_mode": "--auth", "vendor": "--vendor", "sync_time": "--sync-time",
              "archive_threshold_percent": "--archive-threshold", "roles": "--students/--teachers/--staff/--admins",
              "additions_only": "--additions-only", "oneroster_version": "--version",
              "credentials_expire_on": "--credentials-expire-on"}
TOGGLES = tuple((toggle.flag, toggle.column) for toggle in SYNC_TOGGLES)
MARKS = {"ok": "✓", "denied": "✗", "failed": "✗", "skipped": "–"}


class Percent(click.ParamType):
    """--allow-archive and --archive-threshold read by the pages' percent parser: the pages and the CLI take
    and refuse the same values (click's FloatRange lets NaN through and echoes any length back)."""
    name = "percent"

    def convert(self, value, param, ctx):
        try:
            percent = parse_threshold_override(value)
        except InvalidSettings:
            percent = None
        if percent is None:  # an empty value too: leave the option out to use the saved threshold
            shown = value if len(str(value)) <= 40 else str(value)[:40] + "…"
            self.fail(f"{shown!r} is not a percentage from 0 to 100, e.g. 25.", param, ctx)
        return percent


def _school(slug: str) -> School:
    school = db.session.scalar(db.select(School).filter_by(slug=slug))
    if school is None:
        raise click.BadParameter(f"No school with the slug {slug!r}.", param_hint="--school")
    return school


def _refuse(exc: InvalidSettings) -> None:
    """Every field's problem on its own line, named by its option, then exit 2 like click does."""
    lines = [f"  {OPTION_FOR.get(name, name)}: {message}" for name, message in exc.errors.items()]
    raise click.UsageError("The settings were refused:\n" + "\n".join(lines))


def _toggle_options(func):
    for flag, _ in reversed(TOGGLES):
        func = click.option(f"--{flag}/--no-{flag}", default=None)(func)
    return func


def secret_option(ctx, param, value: str) -> str:
    """--client-secret -: the secret from standard input (hidden when typed at a terminal), so that it is in
    neither the shell's history nor the process list."""
    if value != "-":
        return value
    if not sys.stdin.isatty():  # piped: `printenv SIS_SECRET | flask roster configure ... --client-secret -`
        return sys.stdin.readline().strip()
    return click.prompt("Client secret", hide_input=True, default="", show_default=False, err=True).strip()


@roster_cli.command("configure")
@click.option("--school", "slug", required=True, help="The school's slug.")
@click.option("--vendor", type=click.Choice(list(PROFILES)), required=True)
@click.option("--url", required=True)
@click.option("--client-id", required=True)
@click.option("--client-secret", default="", callback=secret_option,
              help="Leave out to keep the saved secret; - reads it "
                   "from standard input (a secret on the command line is in the shell's history and in the "
                   "process list other users of the machine can read).")
@click.option("--sis-school-id", required=True)
@click.option("--app-name", default="")
@click.option("--token-url", default="")
@click.option("--auth", "auth_mode", type=click.Choice(["oauth2", "oauth1"]), default=None,
              help="Leave out for the vendor's default (OAuth 1.0a for ClassLink, else OAuth 2.0).")
@click.option("--version", "oneroster_version", type=click.Choice(["1.1", "1.2"]), default=None,
              help="The OneRoster version (the vendor must offer it); leave out for the vendor's first, 1.1.")
@click.option("--credentials-expire-on", default="", metavar="YYYY-MM-DD",
              help="When the SIS credentials expire; the page and the report warn from 30 days before.")
@click.option("--archive-threshold", type=Percent(), default=None, metavar="PERCENT",
              help="Percent of rostered people a sync may archive without review.")
@_toggle_options
def configure_command(slug, vendor, url, client_id, client_secret, sis_school_id, app_name, token_url,
                      auth_mode, oneroster_version, credentials_expire_on, archive_threshold, **toggles):
    """Save a school's SIS connection and, optionally, its sync toggles."""
    school = _school(slug)
    values = {"url": url, "client_id": client_id, "client_secret": client_secret, "school_id": sis_school_id,
              "app_name": app_name, "token_url": token_url, "auth_mode": auth_mode or "",
              "oneroster_version": oneroster_version or "", "credentials_expire_on": credentials_expire_on}
    try:
        conn = service.save_connection(school, vendor, values, actor=None)
        given = {attr: toggles[flag.replace("-", "_")] for flag, attr in TOGGLES}
        if any(v is not None for v in given.values()) or archive_threshold is not None:
            current = {attr: getattr(conn, attr) for _, attr in TOGGLES}
            current.update({k: v for k, v in given.items() if v is not None})
            service.save_sync_settings(
                conn, **current, automatic=conn.automatic, sync_time=conn.sync_time,
                archive_threshold_percent=conn.archive_threshold_percent if archive_threshold is None
                else archive_threshold, actor=None)
    except InvalidSettings as exc:
        _refuse(exc)
    on = [flag for flag, attr in TOGGLES if getattr(conn, attr)]
    if conn.source is not None:  # the district's own SIS and credentials: the school shares its source
        click.echo(share.joined_notice(conn))
    else:
        click.echo(f"Saved the {PROFILES[vendor].label} connection for {school.name} "
                   f"(OneRoster {conn.oneroster_version}; secret stored encrypted).")
    click.echo(f"Sync settings: {', '.join(on) or 'nothing enabled'}; archive guard "
               f"{conn.archive_threshold_percent:g}%.")


@roster_cli.command("test")
@click.option("--school", "slug", required=True)
def test_command(slug):
    """Test the saved connection: a checklist, exit 1 if any check the sync needs fails."""
    school = _school(slug)
    conn = get_connection(school)
    if conn is None:
        raise click.UsageError(f"{school.name} has no saved connection; run `flask roster configure` first.")
    try:
        rows = service.test_connection(school, conn.credentials.vendor, saved_values(conn), actor=None)
    except InvalidSettings as exc:
        _refuse(exc)
    for row in rows:  # the checklist masked its rows with this connection's secret and tokens already
        click.echo(f"{MARKS.get(row.status, '✗')} {row.label}: {row.detail}")
        if row.fix:
            click.echo(f"    Fix: {row.fix}")
    if any(row.fails for row in rows):  # optional rows (areas the people sync does not read) never fail it
        sys.exit(1)


def _print_progress(values: dict) -> None:
    if "phase" in values:
        fetched = values.get("fetched")
        shown = f" ({fetched} people)" if fetched is not None else ""
        click.echo(f"  {values['phase']}{shown} {values.get('percent', '')}%", err=True)


@roster_cli.command("sync")
@click.option("--school", "slug", default=None, help="The school's slug.")
@click.option("--district", "district_name", default=None,
              help="Instead of one school: run the district's night now (one SIS read per source, every mapped "
                   "school planned and applied from it).")
@click.option("--preview", is_flag=True, help="Show what would change; write nothing to the directory.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
@click.option("--allow-archive", type=Percent(), default=None, metavar="PERCENT",
              help="For this run only, allow archiving up to this percent of rostered people "
                   "(e.g. 25 for the first sync of a school year).")
def sync_command(slug, district_name, preview, as_json, allow_archive):
    """Run a sync now, inline (no worker needed); exit 1 on failure or when it needs review."""
    if (slug is None) == (district_name is None):
        raise click.UsageError("Give either --school SLUG or --district NAME.")
    if district_name is not None:
        if preview or allow_archive is not None:
            raise click.UsageError("--preview and --allow-archive are for one school (--school).")
        return _district_night(district_name, as_json)
    school = _school(slug)
    try:
        run = create_run(school, trigger="preview" if preview else "cli", threshold_override=allow_archive)
    except (NotConfigured, SyncAlreadyRunning) as exc:
        raise click.ClickException(str(exc))
    run_and_report(school, run.id, preview, as_json)


def run_and_report(school: School, run_id: int, preview: bool, as_json: bool, **extra) -> None:
    """Run the created run inline, print its result (text or one JSON object with `extra`); exit 1 unless it
    succeeded (a preview whose real run the archive guard would hold exits 1 too)."""
    run_sync(run_id, on_progress=None if as_json else _print_progress)
    db.session.expire_all()
    run = db.session.get(SyncRun, run_id)
    result = {**extra, **_run_result(run, preview)}
    if as_json:
        click.echo(json.dumps(result))
    else:
        _echo_run(run, result, preview)
    if run.status != "succeeded" or run.would_hold:
        sys.exit(1)


def _run_result(run: SyncRun, preview: bool = False) -> dict:
    """A run's result as `roster sync --json` prints it (one school, or each school of a district night)."""
    return {"run_id": run.id, "status": run.status, "preview": preview, **run.counts(),
            "would_archive": run.would_archive, "would_be_held": run.would_hold, "rostered_total": run.rostered_total,
            "rekeyed": run.rekeyed,
            "error": redactor_for(get_connection(run.school_id))(run.error_message)}


def _echo_run(run: SyncRun, result: dict, preview: bool = False) -> None:
    click.echo(f"{run_kind(run.trigger)} #{run.shown_number} of {run.school.name}: "
               f"{outcome_label(run.status, run.issues).lower()}" + (" (preview: nothing written)" if preview else "")
               + ".")
    click.echo("  " + ", ".join(f"{name} {getattr(run, name)}" for name in RUN_COUNTS))
    if run.rekeyed:
        click.echo(f"  re-keyed {run.rekeyed} (same people under new SIS ids, e.g. after a move to OneRoster 1.2)")
    if result["error"]:
        click.echo(f"  {result['error']}")


def _district_night(name: str, as_json: bool) -> None:
    district = db.session.scalar(db.select(District).filter_by(name=name))
    if district is None:
        raise click.BadParameter(f"No district named {name!r}.", param_hint="--district")
    sources = list(db.session.scalars(db.select(Source).filter_by(district_id=district.id).order_by(Source.id)))
    if not sources:
        raise click.ClickException(f"{name} has no SIS source: set one up on the district's Sources page first.")
    nights, schools = [], []
    for source in sources:
        if not as_json:
            click.echo(f"Reading {source.name} for its mapped schools…", err=True)
        if source.method == CSV_SOURCE:
            night, refusal = _bundle_night(source)
            if night is None:
                nights.append(_not_started(source, refusal))
                continue
        elif (running := open_night(source.id)) is not None:  # as the source page's Run tonight's sync now: 409
            nights.append(_not_started(source, str(NightAlreadyRunning(running))))
            continue
        else:
            night = run_night_now(source)
        runs = night_runs(night.id)
        took = (night.finished_at - night.started_at).total_seconds() if night.finished_at and night.started_at \
            else None
        nights.append({"source": source.name, "night_id": night.id, "status": night.status,
                       "records_read": night.records_read, "requests": night.requests,
                       "seconds": round(took, 1) if took is not None else None,
                       "error": redactor_for(get_connection(runs[0].school_id))(night.error_message) if runs
                       else night.error_message})
        for run in runs:
            schools.append({"school": run.school.slug, **_run_result(run)})
    if as_json:
        click.echo(json.dumps({"district": district.name, "nights": nights, "schools": schools}))
    else:
        for night in nights:
            if night["night_id"] is None:
                click.echo(f"{night['source']}: {night['error']}")
                continue
            click.echo(f"{night['source']}: night {night['status']}, {night['records_read']:,} records read"
                       + (f" in {night['seconds']} s" if night["seconds"] is not None else "") + ".")
            if night["error"]:
                click.echo(f"  {night['error']}")
        for result in schools:
            click.echo(f"{result['school']}: run {result['run_id']} {result['status']}; "
                       + ", ".join(f"{name} {result[name]}" for name in RUN_COUNTS))
            if result["error"]:
                click.echo(f"  {result['error']}")
    if any(n["status"] != "succeeded" for n in nights) or any(r["status"] != "succeeded" for r in schools):
        sys.exit(1)


def _not_started(source: Source, why: str) -> dict:
    """A source's entry in `nights` when nothing was started for it (the JSON keeps the same fields)."""
    return {"source": source.name, "night_id": None, "status": "not_started", "records_read": 0, "requests": 0,
            "seconds": None, "error": why}


def send_a_bundle(source: Source) -> str:
    """What to do when a CSV source has no valid bundle yet: the three ways one reaches it."""
    return (f"Send one with `flask roster import --source {source.id} FILE`, on the source's page or over its SFTP "
            "account.")


def _bundle_night(source: Source):
    """A CSV source has no SIS to read: its night syncs the newest valid bundle into each mapped school, inline, as
    the source page's Sync now does; (night, "") or (None, why nothing started)."""
    bundle = latest_usable_bundle(0, source.id)
    if bundle is None:
        return None, f"no valid bundle has been received yet, so nothing was synced. {send_a_bundle(source)}"
    conns = [conn for conn in mapped_csv_connections(source.id) if conn.enabled_roles]
    try:
        night, _, _, _ = start_bundle_night(source, bundle, conns, trigger="cli", inline=True)
    except NightAlreadyRunning as exc:
        return None, str(exc)
    if night is None:
        return None, "another sync of this source started at the same moment; nothing was started."
    db.session.expire_all()
    return db.session.get(SourceNight, night.id), ""


@click.command("rotate-secrets")
@with_appcontext
def rotate_secrets_command():
    """Re-encrypt every stored SIS secret with the first key of PORTAL_FERNET_KEYS."""
    count = rotate_secrets()
    click.echo(f"Re-encrypted {count} secret{'s' if count != 1 else ''} with the first key.")


@roster_cli.command("tick")
@click.option("--now", "at", default=None, help="Pretend it is this moment (ISO 8601 with offset), for trying "
                                              "out schedules, e.g. 2026-03-08T03:05-08:00.")
def tick_command(at):
    """Start the nightly syncs that are due now and print what was queued (as the scheduler's cron job does)."""
    now = None
    if at:
        try:
            now = datetime.fromisoformat(at)
        except ValueError:
            now = None
        if now is None or now.tzinfo is None:
            raise click.BadParameter("Give a moment with its UTC offset, e.g. 2026-03-08T03:05-08:00.",
                                     param_hint="--now")
    run_ids = run_tick(now)
    if not run_ids:
        click.echo("No nightly syncs are due.")
    for run_id in run_ids:
        run = db.session.get(SyncRun, run_id)
        click.echo(f"Queued nightly sync of {run.school.name} for {run.local_date} (sync #{run.shown_number}).")
