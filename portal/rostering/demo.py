"""The demo's "Simulate SIS changes": the sandbox SIS renames, removes and adds some of the school's people, so
Preview, Auto update and Archive have something to show. Only where DEMO_SANDBOX_URL is set (`make demo`)."""
from flask import current_app, flash, redirect, url_for
from flask_login import current_user

from connectors.sandbox.remote import SandboxUnavailable, same_origin, simulate_changes
from jobs.connection import get_connection
from store.db import db
from store.models import AuditEvent

from ..access import school_required
from . import bp
from .routes import _page

CHANGES = {"renames": 5, "removals": 3, "additions": 3}


class NotInDemo(Exception):
    """Simulating SIS changes needs the demo sandbox and a school connected to it."""


def simulate_for(school, actor, seed=None, **counts) -> dict:
    """Ask the sandbox to change this school's roster; audited. Raises NotInDemo or SandboxUnavailable."""
    admin_url = current_app.config.get("DEMO_SANDBOX_URL", "")
    if not admin_url:
        raise NotInDemo("Simulate SIS changes is only part of the demo (`make demo` sets DEMO_SANDBOX_URL).")
    conn = get_connection(school)
    creds = conn.credentials if conn is not None else None  # a school mapped to a district source uses the source's
    if creds is None or not same_origin(admin_url, creds.url):
        raise NotInDemo(f"{school.name} is not connected to the demo sandbox SIS, so there is nothing to simulate. "
                        "Connect it to the sandbox (or run `make demo` again) first.")
    result = simulate_changes(admin_url, creds.sis_school_id, **{**CHANGES, **counts}, seed=seed)
    AuditEvent.record(school, actor, "demo_sis_changed", sentence(result))
    db.session.commit()
    return result


def sentence(result: dict) -> str:
    renamed, removed, added = (len(result.get(k, ())) for k in ("renamed", "removed", "added"))
    return (f"The demo SIS renamed {renamed} people (new last names), marked {removed} as leaving and enrolled "
            f"{added} new students.")


@bp.post("/demo/simulate")
@school_required
def simulate(school):
    try:
        result = simulate_for(school, current_user)
    except (NotInDemo, SandboxUnavailable) as exc:
        flash(str(exc), "error")
        return _page(school, 409 if isinstance(exc, NotInDemo) else 503)
    flash(f"{sentence(result)} Press Preview to see what a sync would do: with Auto update off, renames are "
          "skipped; with Archive off, leavers are kept.", "success")
    return redirect(url_for("rostering.index", slug=school.slug))
