"""Per-person controls an owner uses against the sync: exclude someone, archive or restore by hand."""
from store.db import db
from store.models import AuditEvent, Person, School, utcnow

ACTIONS = ("exclude", "include", "archive", "restore")


class NotAllowed(Exception):
    """The action does not apply to this person; the message says why."""


def person_of(school: School, person_id: int) -> Person | None:
    person = db.session.get(Person, person_id)
    return person if person is not None and person.school_id == school.id else None


def apply_person_action(school: School, person: Person, action: str, actor: Person) -> str:
    """Apply one control and audit it; returns the message to show."""
    if action not in ACTIONS:
        raise NotAllowed("Unknown action: a person can be excluded, included, archived or restored.")
    if person.role in ("owner", "district_manager") and action in ("archive", "restore"):
        raise NotAllowed("Owners and district managers are managed by the district, not archived here.")
    if action == "exclude":
        person.sync_enabled = False
        message = f"{person.full_name} is excluded from SIS sync: syncs will not update or archive them."
    elif action == "include":
        person.sync_enabled = True
        message = f"{person.full_name} is included in SIS sync again."
    elif action == "archive":
        person.status, person.archived_by, person.archived_at = "archived", "manual", utcnow()
        message = f"{person.full_name} is archived. A sync will not restore them on its own."
    else:
        person.status, person.archived_by, person.archived_at = "active", "", None
        message = f"{person.full_name} is active again."
    AuditEvent.record(school, actor, f"person_{action}", f"{person.full_name} ({person.role})")
    db.session.commit()
    return message
