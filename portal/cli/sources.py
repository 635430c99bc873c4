"""`flask roster source add|test|map`: a district's SIS source set up from the command line, as on its page."""
import sys

import click
from flask import current_app
from flask.cli import AppGroup

from connectors.errors import InvalidSettings
from connectors.profiles import PROFILES
from jobs.source_bundles import CSV_SOURCE, bundle_schools
from jobs.source_checks import check_source
from store.db import db
from store.models import District, Source

from ..sources import service
from ..rostering.csv_method import RECEIPT_CHOICES
from ..sources.context import saved_source_values
from ..sources.csv_source import save_csv_source
from .roster import MARKS, OPTION_FOR, _refuse, _school, secret_option, send_a_bundle

source_cli = AppGroup("source", help="Set up a district's SIS source, test it and map its schools.")
OPTIONS = {"name": "--name", "sis_school_id": "--sis-id", "school": "--school"}  # the rest: roster's OPTION_FOR
CSV_OPTIONS = {"name": "--name", "sync_time": "--sync-time", "csv_sync_on_receipt": "--on-receipt"}


def _refused(exc: InvalidSettings) -> None:
    _refuse(InvalidSettings({OPTIONS.get(name, OPTION_FOR.get(name, name)): message
                             for name, message in exc.errors.items()}))


def _district(name: str) -> District:
    district = db.session.scalar(db.select(District).filter_by(name=name))
    if district is None:
        raise click.BadParameter(f"No district named {name!r}.", param_hint="--district")
    return district


def _source(district: District, source_id: int | None) -> Source:
    """The named source of the district, or its only one."""
    sources = list(db.session.scalars(db.select(Source).where(Source.district_id == district.id).order_by(Source.id)))
    if source_id is not None:
        chosen = next((s for s in sources if s.id == source_id), None)
        if chosen is None:
            raise click.BadParameter(f"{district.name} has no source {source_id}.", param_hint="--source")
        return chosen
    if not sources:
        raise click.UsageError(f"{district.name} has no SIS source; run `flask roster source add` first.")
    if len(sources) > 1:
        listed = ", ".join(f"{s.id} ({s.name})" for s in sources)
        raise click.UsageError(f"{district.name} has {len(sources)} sources; choose one with --source: {listed}.")
    return sources[0]


@source_cli.command("add")
@click.option("--district", "district_name", required=True, help="The district's name.")
@click.option("--vendor", type=click.Choice(list(PROFILES)), required=True)
@click.option("--url", required=True)
@click.option("--client-id", required=True)
@click.option("--client-secret", default="", callback=secret_option,
              help="Leave out to keep the saved secret (with --source); - reads it "
                   "from standard input (a secret on the command line is in the shell's history and in the "
                   "process list other users of the machine can read).")
@click.option("--app-name", default="")
@click.option("--token-url", default="")
@click.option("--auth", "auth_mode", type=click.Choice(["oauth2", "oauth1"]), default=None,
              help="Leave out for the vendor's default (OAuth 1.0a for ClassLink, else OAuth 2.0).")
@click.option("--name", default="", help="Leave out for \"DISTRICT — VENDOR\".")
@click.option("--sync-time", default=None, help="The source's nightly time, HH:MM in the district's zone.")
@click.option("--automatic/--no-automatic", default=None, help="Sync the source's schools every night.")
@click.option("--source", "source_id", type=int, default=None, help="Change this source instead of adding one.")
def add_source_command(district_name, vendor, url, client_id, client_secret, app_name, token_url, auth_mode, name,
                sync_time, automatic, source_id):
    """Add (or with --source, change) a district's SIS source; the secret is stored encrypted."""
    district = _district(district_name)
    source = _source(district, source_id) if source_id is not None else None
    values = {"url": url, "client_id": client_id, "client_secret": client_secret, "app_name": app_name,
              "token_url": token_url, "auth_mode": auth_mode or ""}
    try:
        saved = service.save_source(district, vendor, values, None, source=source,
                                    name=name or (source.name if source else ""), automatic=automatic,
                                    sync_time=sync_time)
    except InvalidSettings as exc:
        _refused(exc)
    click.echo(f"Saved source {saved.id} \"{saved.name}\" ({PROFILES[vendor].label}) for {district.name} "
               "(secret stored encrypted).")
    click.echo(f"Nightly at {saved.sync_time} {district.timezone}: {'on' if saved.automatic else 'off'}. "
               f"Next: `flask roster source test --district \"{district.name}\"`.")


@source_cli.command("add-csv")
@click.option("--district", "district_name", required=True, help="The district's name.")
@click.option("--name", default="", help="Leave out for \"DISTRICT — OneRoster CSV\".")
@click.option("--sync-time", default="02:00", help="The nightly time, HH:MM in the district's zone.")
@click.option("--automatic/--no-automatic", default=False, help="Sync the newest bundle every night.")
@click.option("--on-receipt", type=click.Choice([key for key, _ in RECEIPT_CHOICES]), default="now",
              help="A valid bundle that arrives: sync it now, or wait for the nightly time.")
@click.option("--source", "source_id", type=int, default=None, help="Change this source instead of adding one.")
def add_csv_source_command(district_name, name, sync_time, automatic, on_receipt, source_id):
    """Add (or with --source, change) a district source that receives OneRoster CSV bundles instead of reading an
    SIS; its bundles come from `roster import --source`, its page's upload or its SFTP account."""
    district = _district(district_name)
    source = _source(district, source_id) if source_id is not None else None
    try:
        saved = save_csv_source(district, None, source=source, name=name or (source.name if source else ""),
                                automatic=automatic, sync_time=sync_time, receipt=on_receipt)
    except InvalidSettings as exc:
        _refuse(InvalidSettings({CSV_OPTIONS.get(key, key): message for key, message in exc.errors.items()}))
    click.echo(f"Saved source {saved.id} \"{saved.name}\" (OneRoster CSV) for {district.name}. Next: map its schools "
               f"with `flask roster source map`, then send a bundle with `flask roster import --source {saved.id} "
               "FILE`.")


@source_cli.command("test")
@click.option("--district", "district_name", required=True)
@click.option("--source", "source_id", type=int, default=None, help="Needed when the district has several.")
def test_source_command(district_name, source_id):
    """Test the saved source: the checklist and the SIS's schools; exit 1 if a check the sync needs fails."""
    district = _district(district_name)
    source = _source(district, source_id)
    if source.method == CSV_SOURCE:
        return _list_bundle_schools(source)
    try:
        settings = service.settings_to_test(source, source.vendor, saved_source_values(source))
    except InvalidSettings as exc:
        _refused(exc)
    rows, schools = check_source(source.id, settings, None, current_app.redis)
    for row in rows:  # masked by the checklist with the source's secret and tokens
        click.echo(f"{MARKS.get(row.status, '✗')} {row.label}: {row.detail}")
        if row.fix:
            click.echo(f"    Fix: {row.fix}")
    _echo_schools(source, schools)
    if any(row.fails for row in rows):
        sys.exit(1)


def _list_bundle_schools(source: Source) -> None:
    """A CSV source has no SIS to test: the schools of its newest valid bundle, as its page lists them."""
    schools = bundle_schools(source)
    if schools is None:
        click.echo(f"{source.name} receives OneRoster CSV and no valid bundle has been received yet, so there are no "
                   f"SIS schools to map. {send_a_bundle(source)}")
        sys.exit(1)
    click.echo(f"{source.name} receives OneRoster CSV, so it has no SIS connection to test; map the schools of its "
               "newest valid bundle with `flask roster source map`.")
    _echo_schools(source, schools, "The newest valid bundle lists")


def _echo_schools(source: Source, schools: list[dict], lists: str = "The SIS lists") -> None:
    mapped = {conn.sis_school_id.lower(): conn.school for conn in service.mapped_connections(source)}
    click.echo(f"{lists} {len(schools)} school{'s' if len(schools) != 1 else ''}:")
    for school in schools:
        portal = mapped.get(school["source_id"].lower())
        shown = f"mapped to {portal.slug}" if portal else "not mapped"
        click.echo(f"  {school['source_id']}\t{school['name'] or '(no name)'}\t{shown}")


@source_cli.command("map")
@click.option("--district", "district_name", required=True)
@click.option("--school", "slug", required=True, help="The portal school's slug.")
@click.option("--sis-id", default="", help="The SIS school's id (sourcedId), as `roster source test` lists it.")
@click.option("--source", "source_id", type=int, default=None, help="Needed when the district has several.")
@click.option("--unmap", is_flag=True, help="Take the school off its source (it keeps its sync settings).")
def map_source_command(district_name, slug, sis_id, source_id, unmap):
    """Map a portal school to one of the source's SIS schools, or --unmap it."""
    district = _district(district_name)
    school = _school(slug)
    if school.district_id != district.id:
        raise click.BadParameter(f"{school.name} is not a school of {district.name}.", param_hint="--school")
    try:
        if unmap:
            service.unmap_school(school, None)
            click.echo(f"Unmapped {school.name}; it keeps its sync settings and needs a connection of its own to sync.")
            return
        source = _source(district, source_id)
        service.map_school(source, school, sis_id, None)
    except InvalidSettings as exc:
        _refused(exc)
    click.echo(f"Mapped {school.name} to SIS school {sis_id.strip()} of \"{source.name}\".")
