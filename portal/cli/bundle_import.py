"""`flask roster import --school SLUG FILE [--preview] [--json]`: validate a OneRoster CSV bundle and sync it inline;
`flask roster configure-csv --school SLUG`: put a school on the CSV method."""
import csv
import io
import json
import os
import secrets
import shutil
import sys
from pathlib import Path

import click
from flask import current_app

from connectors.errors import InvalidSettings
from jobs.bundle_files import CSV_METHOD
from jobs.bundles import accept_bundle
from jobs.connection import NotConfigured, get_connection
from jobs.runs import SyncAlreadyRunning, create_run

from ..rostering.csv_method import RECEIPT_CHOICES, save_csv_connection
from .roster import _refuse, _school, roster_cli, run_and_report


def _copy_in(path: Path) -> Path:
    """A copy in bundle storage's incoming folder: the operator's own file is left where it is."""
    incoming = Path(current_app.config["BUNDLE_DIR"]) / "incoming"
    incoming.mkdir(mode=0o700, parents=True, exist_ok=True)
    target = incoming / (secrets.token_hex(8) + (".zip" if path.is_file() else ""))
    if path.is_file():
        shutil.copyfile(path, target)
    else:
        target.mkdir(mode=0o700)
        for entry in os.scandir(path):  # the bundle's own files; links and folders are the reader's to refuse
            if entry.is_symlink():
                os.symlink(os.readlink(entry.path), target / entry.name)
            elif entry.is_file():
                shutil.copyfile(entry.path, target / entry.name)
    return target


def _problems(bundle) -> list[dict]:
    return list(csv.DictReader(io.StringIO(bundle.report_csv or "")))


@roster_cli.command("import")
@click.option("--school", "slug", required=True, help="The school's slug.")
@click.argument("file", type=click.Path(exists=True, path_type=Path))
@click.option("--preview", is_flag=True, help="Show what would change; write nothing to the directory.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def import_command(slug, file, preview, as_json):
    """Validate a OneRoster CSV bundle (a zip or a folder), then sync or preview it inline.

    Exit 1 when the bundle has errors (nothing is changed), or the sync fails or needs review; 2 for bad usage.
    """
    school = _school(slug)
    conn = get_connection(school)
    if conn is None or conn.method != CSV_METHOD:
        raise click.ClickException(f"{school.name} does not sync from OneRoster CSV; choose \"OneRoster CSV (SFTP or "
                                   "upload)\" as its Method on the Rostering page first.")
    if not (file.is_file() or file.is_dir()):  # a FIFO or a device (/dev/zero) would be read for ever
        raise click.BadParameter(f"{file} is neither a zip file nor a folder of CSV files.", param_hint="FILE")
    try:
        copy = _copy_in(file)
    except OSError as exc:
        raise click.ClickException(f"{file} cannot be read ({exc.strerror or exc}); nothing was changed.")
    bundle = accept_bundle(school.id, copy, via="cli", filename=file.name, sync=False)
    found = {"bundle_id": bundle.id, "bundle_status": bundle.status, "bundle_errors": bundle.error_count,
             "bundle_warnings": bundle.warning_count}
    if bundle.status not in ("valid", "synced"):
        if as_json:
            click.echo(json.dumps({**found, "status": bundle.status, "summary": bundle.summary,
                                   "problems": _problems(bundle)}))
        else:
            click.echo(f"Bundle {bundle.id} {bundle.status}: {bundle.summary}")
            for row in _problems(bundle):
                where = " ".join(part for part in (row["file"], row["line"] and f"line {row['line']}",
                                                   row["column"] and f"column {row['column']}") if part)
                click.echo(f"  {row['severity']}: {where or 'bundle'}: {row['problem']} {row['what_to_do']}")
        sys.exit(1)
    if not as_json:
        click.echo(f"Bundle {bundle.id}: {bundle.summary}", err=True)
    try:
        run = create_run(school, trigger="preview" if preview else "cli", bundle_id=bundle.id)
    except (NotConfigured, SyncAlreadyRunning) as exc:
        raise click.ClickException(str(exc))
    run_and_report(school, run.id, preview, as_json, **found)


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
