"""`flask demo simulate-changes`: the demo sandbox SIS changes a school's roster (as the Rostering page's button)."""
import click
from flask.cli import AppGroup

from connectors.sandbox.remote import SandboxUnavailable
from store.db import db
from store.models import School

from ..rostering.demo import CHANGES, NotInDemo, sentence, simulate_for

demo_cli = AppGroup("demo", help="Demo helpers (need DEMO_SANDBOX_URL, which `make demo` sets).")


@demo_cli.command("simulate-changes")
@click.option("--school", "slug", required=True, help="The school's slug, e.g. lincoln-high.")
@click.option("--renames", type=click.IntRange(0, 500), default=CHANGES["renames"], show_default=True)
@click.option("--removals", type=click.IntRange(0, 500), default=CHANGES["removals"], show_default=True)
@click.option("--additions", type=click.IntRange(0, 500), default=CHANGES["additions"], show_default=True)
@click.option("--seed", type=int, default=None, help="Pick the same people every time.")
def simulate_changes_command(slug, renames, removals, additions, seed):
    """Rename, remove and add some of the school's people in the demo sandbox SIS."""
    school = db.session.scalar(db.select(School).filter_by(slug=slug))
    if school is None:
        raise click.ClickException(f"No school {slug!r}. The demo schools are lincoln-high and roosevelt-middle.")
    try:
        result = simulate_for(school, None, seed=seed, renames=renames, removals=removals, additions=additions)
    except (NotInDemo, SandboxUnavailable) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(sentence(result))
    for kind in ("renamed", "removed", "added"):
        if result[kind]:
            click.echo(f"  {kind}: {', '.join(result[kind])}")
    click.echo("Preview on the Rostering page (or `flask --app wsgi roster sync --school "
               f"{slug} --preview`) shows what a sync would do.")
