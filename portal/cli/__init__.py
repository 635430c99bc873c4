"""The `flask --app wsgi …` operator commands, registered on the app in create_app()."""
from flask import Flask

from . import accounts, bundle_import, demo, roster, sources  # noqa: F401 - bundle_import adds `roster import`


def register_cli(app: Flask) -> None:
    accounts.register(app.cli)
    roster.roster_cli.add_command(sources.source_cli)
    app.cli.add_command(roster.roster_cli)
    app.cli.add_command(roster.rotate_secrets_command)
    app.cli.add_command(demo.demo_cli)
