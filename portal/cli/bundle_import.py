"""`flask roster import --school SLUG|--source ID|NAME FILE [--preview] [--json]`: validate a OneRoster CSV bundle
and sync it inline (for one school, or for every school a district CSV source maps);
`flask roster configure-csv --school SLUG`: put a school on the CSV method."""
import csv
import io
import itertools
import json
import os
import secrets
import shutil
import sys
from pathlib import Path

import click
from flask import current_app

from connectors.errors import InvalidSettings
from jobs.bundle_files import CSV_METHOD, bundle_limits
from jobs.bundle_nights import start_bundle_night
from jobs.bundles import accept_bundle
from jobs.connection import NotConfigured, get_connection
from jobs.district_night import NightAlreadyRunning
from jobs.runs import SyncAlreadyRunning, create_run
from jobs.source_bundles import CSV_SOURCE, check_and_list, store_source_bundle
from jobs.sync import run_sync
from store.db import db
from store.models import RUN_COUNTS, Source, SourceNight, SyncRun

from ..rostering.csv_method import RECEIPT_CHOICES, save_csv_connection
from .roster import _refuse, _run_result, _school, roster_cli, run_and_report


def _copy_in(path: Path) -> Path:
    """A copy in bundle storage's incoming folder: the operator's own file is left where it is."""
    path = _export_folder(path) if path.is_dir() else path
    incoming = Path(current_app.config["BUNDLE_DIR"]) / "incoming"
    incoming.mkdir(mode=0o700, parents=True, exist_ok=True)
    target = incoming / (secrets.token_hex(8) + (".zip" if path.is_file() else ""))
    if path.is_file():
        shutil.copyfile(path, target)
    else:
        target.mkdir(mode=0o700)
        _copy_folder(path, target)
    return target


def _copy_folder(path: Path, target: Path) -> None:
    """The folder's CSV files, for the reader to check; what it would refuse or ignore unread (a link, a sub-folder,
    a file that is not CSV, a file past the limits, entries past the limit's count) gets an empty stand-in of the
    same name and size instead of a copy: FILE may be a Downloads folder of many gigabytes or thousands of files,
    and bundle storage keeps what it is given for 30 days."""
    limits, room = bundle_limits(), bundle_limits().max_total_bytes
    with os.scandir(path) as scan:
        for entry in itertools.islice(scan, limits.max_entries + 1):  # one past the limit: the reader refuses it
            if entry.is_symlink():
                os.symlink(os.readlink(entry.path), target / entry.name)
            elif entry.is_dir():
                (target / entry.name).mkdir(mode=0o700)
            elif entry.is_file():
                size = entry.stat().st_size
                if entry.name.lower().endswith(".csv") and size <= min(room, limits.max_file_bytes):
                    shutil.copyfile(entry.path, target / entry.name)
                    room -= size
                else:
                    with open(target / entry.name, "wb") as stand_in:
                        stand_in.truncate(size if entry.name.lower().endswith(".csv") else 0)  # sparse: no disk


def _export_folder(path: Path) -> Path:
    """The folder holding the CSV files: a folder with no CSV file of its own but one sub-folder (the export
    unpacked into a folder of its own, or a dated folder) is read from that sub-folder, as a zip's files are; only
    the named folder's files were copied, and the run said "manifest.csv is missing"."""
    for _ in range(5):
        entries = list(os.scandir(path))
        if any(e.name.lower().endswith(".csv") for e in entries):
            return path
        folders = sorted(e.name for e in entries
                         if e.is_dir(follow_symlinks=False) and not e.name.startswith((".", "__MACOSX")))
        if len(folders) != 1:
            if folders:
                raise click.UsageError(f"{path} holds no CSV files, only the folders {', '.join(folders[:5])}; "
                                       "give the folder that holds manifest.csv, orgs.csv and users.csv.")
            return path
        path = path / folders[0]
    return path


WARNINGS_SHOWN = 20  # a valid bundle's warnings printed before the result; --json carries every one


def _problems(bundle) -> list[dict]:
    return list(csv.DictReader(io.StringIO(bundle.report_csv or "")))


@roster_cli.command("import")
@click.option("--school", "slug", default=None, help="The school's slug.")
@click.option("--source", "source_ref", default=None, metavar="ID|NAME",
              help="Instead of one school: a district CSV source (its id or name); every mapped school it lists "
                   "syncs from the bundle.")
@click.argument("file", type=click.Path(exists=True, path_type=Path))
@click.option("--preview", is_flag=True, help="Show what would change; write nothing to the directory.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def import_command(slug, source_ref, file, preview, as_json):
    """Validate a OneRoster CSV bundle (a zip or a folder), then sync or preview it inline.

    Exit 1 when the bundle has errors (nothing is changed), or a sync fails or needs review; 2 for bad usage.
    """
    if (slug is None) == (source_ref is None):
        raise click.UsageError("Give either --school SLUG or --source ID|NAME.")
    if source_ref is not None:
        return _import_for_source(_csv_source(source_ref), file, preview, as_json)
    school = _school(slug)
    conn = get_connection(school)
    if conn is None or conn.method != CSV_METHOD:
        raise click.ClickException(f"{school.name} does not sync from OneRoster CSV; choose \"OneRoster CSV (SFTP or "
                                   "upload)\" as its Method on the Rostering page first.")
    copy = _received(file)
    bundle = accept_bundle(school.id, copy, via="cli", filename=file.name, sync=False)
    found = _found(bundle)
    if bundle.status not in ("valid", "synced"):
        _refused(bundle, found, as_json)
    _accepted(bundle, found, as_json)
    try:
        run = create_run(school, trigger="preview" if preview else "cli", bundle_id=bundle.id)
    except (NotConfigured, SyncAlreadyRunning) as exc:
        raise click.ClickException(str(exc))
    run_and_report(school, run.id, preview, as_json, **found)


def _received(file: Path) -> Path:
    """The operator's FILE copied into bundle storage; a FIFO, a device or an unreadable file is refused."""
    if not (file.is_file() or file.is_dir()):  # a FIFO or a device (/dev/zero) would be read for ever
        raise click.BadParameter(f"{file} is neither a zip file nor a folder of CSV files.", param_hint="FILE")
    try:
        return _copy_in(file)
    except OSError as exc:
        raise click.ClickException(f"{file} cannot be read ({exc.strerror or exc}); nothing was changed.")


def _found(bundle) -> dict:
    return {"bundle_id": bundle.id, "bundle_status": bundle.status, "bundle_errors": bundle.error_count,
            "bundle_warnings": bundle.warning_count}


def _refused(bundle, found: dict, as_json: bool) -> None:
    """Print a bundle that was not applied (its report, problem by problem) and exit 1."""
    if as_json:
        click.echo(json.dumps({**found, "status": bundle.status, "summary": bundle.summary,
                               "problems": _problems(bundle)}))
    else:
        click.echo(f"Bundle {bundle.id} {bundle.status}: {bundle.summary}")
        _echo_problems(_problems(bundle))
    sys.exit(1)


def _echo_problems(rows: list[dict], err: bool = False, at_most: int | None = None) -> None:
    """The report's rows, one line each (file, line, column, what is wrong, what to do); the first `at_most`."""
    for row in rows[:at_most]:
        where = " ".join(part for part in (row["file"], row["line"] and f"line {row['line']}",
                                           row["column"] and f"column {row['column']}") if part)
        click.echo(f"  {row['severity']}: {where or 'bundle'}: {row['problem']} {row['what_to_do']}", err=err)
    if at_most is not None and len(rows) > at_most:
        click.echo(f"  … and {len(rows) - at_most:,} more: --json lists them all, and the school's Rostering page "
                   "offers the report as CSV.", err=err)


def _accepted(bundle, found: dict, as_json: bool) -> None:
    """A valid bundle: its warnings go with the result (a valid bundle's warnings can still matter: unknown
    roles, a school id that does not match, dates it could not read)."""
    found["problems"] = _problems(bundle)
    if not as_json:
        click.echo(f"Bundle {bundle.id}: {bundle.summary}", err=True)
        _echo_problems(found["problems"], err=True, at_most=WARNINGS_SHOWN)


def _csv_source(ref: str) -> Source:
    """The district CSV source named by id or by name (a name two districts share needs the id)."""
    ref = ref.strip()
    if ref.isdigit() and len(ref) < 10:
        found = [source] if (source := db.session.get(Source, int(ref))) is not None else []
    else:
        found = list(db.session.scalars(db.select(Source).where(Source.name == ref).order_by(Source.id)))
    if not found:
        raise click.BadParameter(f"No district source {ref!r}.", param_hint="--source")
    if len(found) > 1:
        raise click.BadParameter(f"{len(found)} districts have a source named {ref!r}; give its id: "
                                 f"{', '.join(str(s.id) for s in found)}.", param_hint="--source")
    if found[0].method != CSV_SOURCE:
        raise click.ClickException(f"{found[0].name} reads its SIS over the OneRoster API; choose the OneRoster CSV "
                                   "method on its Sources page first (or use roster sync --district).")
    return found[0]


def _import_for_source(source: Source, file: Path, preview: bool, as_json: bool) -> None:
    """A district CSV source's bundle: checked once, then each mapped school it lists previews inline, or syncs in
    one night of the source (the overview and the digest show it); one JSON object with a `schools` list."""
    bundle = store_source_bundle(source.id, _received(file), via="cli", filename=file.name)
    conns = check_and_list(bundle.id, sync=False)
    db.session.refresh(bundle)
    found = {"source": source.name, **_found(bundle)}
    if bundle.status != "valid":
        _refused(bundle, found, as_json)
    _accepted(bundle, found, as_json)
    night = None
    if preview:
        runs = []
        for conn in conns:
            try:
                runs.append(create_run(conn.school, trigger="preview", bundle_id=bundle.id))
            except (NotConfigured, SyncAlreadyRunning) as exc:
                raise click.ClickException(f"{conn.school.name}: {exc}")
            run_sync(runs[-1].id)
    else:
        try:
            night, runs, _, _ = start_bundle_night(source, bundle, conns, trigger="cli", inline=True)
        except NightAlreadyRunning as exc:
            raise click.ClickException(str(exc))
    db.session.expire_all()
    schools = [{"school": run.school.slug, **_run_result(db.session.get(SyncRun, run.id), preview)} for run in runs]
    if night is not None:
        night = db.session.get(SourceNight, night.id)
        found.update(night_id=night.id, night_status=night.status, records_read=night.records_read,
                     night_error=night.error_message)
    if as_json:
        click.echo(json.dumps({**found, "schools": schools}))
    else:
        if night is not None:
            click.echo(f"{source.name}: night {night.status}, {night.records_read:,} users in the bundle.")
            if night.error_message:
                click.echo(f"  {night.error_message}")
        for result in schools:
            click.echo(f"{result['school']}: run {result['run_id']} {result['status']}"
                       + (" (preview: nothing written)" if preview else "") + "; "
                       + ", ".join(f"{name} {result[name]}" for name in RUN_COUNTS))
            if result["error"]:
                click.echo(f"  {result['error']}")
    if not schools or any(result["status"] != "succeeded" or result["would_be_held"] for result in schools) or \
            (night is not None and night.status != "succeeded"):
        sys.exit(1)


@roster_cli.command("configure-csv")
@click.option("--school", "slug", required=True, help="The school's slug.")
@click.option("--sis-school-id", default="", help="The school's sourcedId in orgs.csv (blank: the only school).")
@click.option("--on-receipt", type=click.Choice([key for key, _ in RECEIPT_CHOICES]), default="now",
              help="A valid bundle that arrives over SFTP: sync it now, or wait for the nightly sync.")
def configure_csv_command(slug, sis_school_id, on_receipt):
    """Make the school sync from OneRoster CSV bundles (SFTP or upload) instead of the API."""
    school = _school(slug)
    try:
        save_csv_connection(school, {"sis_school_id": sis_school_id, "csv_sync_on_receipt": on_receipt}, actor=None)
    except InvalidSettings as exc:
        options = {"sis_school_id": "--sis-school-id", "csv_sync_on_receipt": "--on-receipt"}
        _refuse(InvalidSettings({options.get(name, name): message for name, message in exc.errors.items()}))
    click.echo(f"{school.name} now syncs from OneRoster CSV bundles; a valid bundle received over SFTP is "
               f"{'synced at once' if on_receipt == 'now' else 'synced at the nightly time'}.")
