"""A run's field-level change log grouped per person, for previews, reviews and the run page."""
from sqlalchemy import func

from store.db import db
from store.models import Person, SyncChange

ACTIONS = ("create", "update", "link", "archive", "rekey")  # skips are counted on the run, not logged
LIST_LIMIT = 50


def _display_name(person, label, diffs) -> str:
    """The person's name: from the directory, else what the change row recorded (a planned create)."""
    if person is not None:
        return person.full_name
    names = {field: after or before for field, before, after in diffs}
    return label or " ".join(n for n in (names.get("given_name"), names.get("family_name")) if n)


def grouped_changes(run, actions=ACTIONS, limit=LIST_LIMIT) -> dict[str, dict]:
    """Per action: how many people, and the first `limit` of them with their field diffs."""
    result = {}
    for action in actions:
        where = (SyncChange.run_id == run.id, SyncChange.action == action)
        total = db.session.scalar(db.select(func.count(func.distinct(SyncChange.source_id))).where(*where))
        first_ids = db.select(SyncChange.source_id).where(*where).distinct() \
            .order_by(SyncChange.source_id).limit(limit)
        rows = db.session.execute(
            db.select(SyncChange, Person).outerjoin(Person, Person.id == SyncChange.person_id)
            .where(*where, SyncChange.source_id.in_(first_ids))
            .order_by(SyncChange.source_id, SyncChange.id)).all()
        people: dict[str, dict] = {}
        for change, person in rows:
            entry = people.setdefault(change.source_id, {"source_id": change.source_id, "person": person,
                                                         "label": "", "diffs": []})
            if change.field:
                entry["diffs"].append((change.field, change.before, change.after))
            else:  # a create row carries the new person's name
                entry["label"] = change.after
        for entry in people.values():
            entry["name"] = _display_name(entry.pop("person"), entry.pop("label"), entry["diffs"]) \
                or entry["source_id"]
        result[action] = {"total": total or 0, "people": list(people.values())}
    return result
