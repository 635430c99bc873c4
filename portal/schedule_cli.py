"""`flask roster tick`: run the nightly dispatcher once, as the scheduler's cron job does."""
from datetime import datetime

import click

from store.db import db
from store.models import SyncRun


@click.command("tick")
@click.option("--now", "at", default=None, help="Pretend it is this moment (ISO 8601 with offset), for trying "
                                              "out schedules, e.g. 2026-03-08T03:05-08:00.")
def tick_command(at):
    """Start the nightly syncs that are due now and print what was queued."""
    from jobs.schedule import run_tick
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
        click.echo(f"Queued nightly sync of {run.school.name} for {run.local_date} (run {run.id}).")


def register(roster_group) -> None:
    """Add `tick` to the `flask roster` group."""
    roster_group.add_command(tick_command)
