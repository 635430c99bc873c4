"""The audit log: who changed rostering settings or previewed, ran, approved or discarded a sync."""
from flask import render_template, request

from store.db import db
from store.models import AuditEvent

from ..access import school_required
from ..paging import page_number
from . import bp

AUDIT_PAGE_SIZE = 50
ACTIONS = {
    "settings_changed": "Changed settings",
    "connection_tested": "Tested the connection",
    "sync_previewed": "Previewed a sync",
    "sync_started": "Started a sync",
    "sync_approved": "Approved a sync",
    "sync_discarded": "Discarded a sync",
    "sync_undone": "Undid a sync",
    "demo_sis_changed": "Simulated SIS changes (demo)",
    "person_exclude": "Excluded a person from sync",
    "person_include": "Included a person in sync again",
    "person_archive": "Archived a person by hand",
    "person_restore": "Restored a person by hand",
    "blackout_added": "Added a no-sync period",
    "blackout_removed": "Removed a no-sync period",
    "sftp_account_created": "Created the SFTP account",
    "sftp_password_reset": "Set a new SFTP password",
    "sftp_password_removed": "Removed the SFTP password",
    "sftp_keys_changed": "Changed the SFTP keys",
    "sftp_account_removed": "Removed the SFTP account",
    "source_mapped": "Mapped to a district source",
    "source_unmapped": "Unmapped from a district source",
    "source_added": "Added a source",  # the district's log (portal.sources.audit)
    "source_saved": "Saved a source",
    "source_removed": "Removed a source",
    "source_joined": "A school joined a source",  # an owner saved the source's SIS and credentials
    "source_shared": "Schools now share a source",  # owners saved one SIS and credentials: a source made of them
    "source_join_refused": "A school was not joined to a source",
}


def action_label(action: str) -> str:
    return ACTIONS.get(action, action.replace("_", " ").capitalize())


def newest_first(model, *where):
    """One page of an audit log (the request's ?page=), newest first."""
    query = db.select(model).where(*where).order_by(model.created_at.desc(), model.id.desc())
    return db.paginate(query, page=page_number(request.args), per_page=AUDIT_PAGE_SIZE, error_out=False)


@bp.get("/audit")
@school_required
def audit(school):
    events = newest_first(AuditEvent, AuditEvent.school_id == school.id)
    return render_template("rostering/audit.html", school=school, events=events, action_label=action_label)
