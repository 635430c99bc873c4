"""Per-person controls an owner uses against the sync: exclude someone, archive or restore by hand, or link
someone to their SIS record on purpose."""
from sqlalchemy.exc import IntegrityError

from store.db import db
from store.models import AuditEvent, Person, School, utcnow

ACTIONS = ("exclude", "include", "archive", "restore")


class NotAllowed(Exception):
    """The action does not apply to this person; the message says why."""


class BadSisId(ValueError):
    """What was typed as an SIS record id cannot be one; the message says what to enter."""


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


def link_to_sis_record(school: School, person: Person, source_id: str, actor: Person) -> str:
    """Link a person made by hand to an SIS record (the sync never does this for an account that can sign in).

    A linked sign-in account is still never changed by a sync: the link only stops the sync reporting the record
    as a match of someone who can sign in. Anyone else is then kept up to date from the record, as after a sync's
    own link by email.
    """
    source_id = source_id.strip()
    if not source_id:
        raise BadSisId("Enter the SIS record id (the id the sync's issue list shows for that record), then press "
                       "Link.")
    if len(source_id) > 255:
        raise BadSisId("That SIS record id is longer than 255 characters, so it is not one; copy the id from the "
                       "sync's issue list.")
    if not source_id.isprintable():
        raise BadSisId("An SIS record id cannot contain control or invisible characters; copy the id from the "
                       "sync's issue list.")
    if person.source_id is not None:
        raise NotAllowed(f"{person.full_name} is already linked to SIS record {person.source_id}; a person is "
                         "linked to one record only.")
    taken = db.session.scalar(db.select(Person).where(Person.school_id == school.id, Person.source_id == source_id))
    if taken is not None:
        raise NotAllowed(f"SIS record {source_id} already belongs to {taken.full_name} in People; check the id in "
                         "the sync's issue list.")
    person.source_id = source_id
    AuditEvent.record(school, actor, "person_sis_link",
                      f"{person.full_name} ({person.role}) linked to SIS record {source_id}")
    try:
        db.session.commit()
    except IntegrityError:  # a sync added that record in the meantime
        db.session.rollback()
        raise NotAllowed(f"SIS record {source_id} was just added to People by a sync; reload the page and check "
                         "who has it.") from None
    if person.can_sign_in:
        return (f"{person.full_name} is linked to SIS record {source_id}. Syncs still never change them: SIS data "
                "never changes an account that can sign in.")
    return f"{person.full_name} is linked to SIS record {source_id}; syncs keep them up to date from it."
