"""A run's field-level change log grouped per person, for previews, reviews and the run page."""
from sqlalchemy import func

from jobs.people_refs import PersonRef, people_by_id, people_by_source
from store.db import db
from store.models import Person, SyncChange
from store.vocabulary import skip_reason

ACTIONS = ("create", "update", "link", "archive", "rekey")  # skips are listed apart (skipped_people), with reasons
LIST_LIMIT = 50


def _display_name(person, label, diffs) -> str:
    """The person's name: from the directory, else what the change row recorded (a planned create)."""
    if person is not None:
        return person.full_name
    names = {field: after or before for field, before, after in diffs}
    return label or " ".join(n for n in (names.get("given_name"), names.get("family_name")) if n)


def _ref(person) -> PersonRef | None:
    if person is None:
        return None
    return PersonRef(person.id, person.source_id or "", person.full_name, person.role, person.status)


def grouped_changes(run, actions=ACTIONS, limit=LIST_LIMIT) -> dict[str, dict]:
    """Per action: how many people, and the first `limit` of them with their field diffs and a link to each."""
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
            person = entry.pop("person")
            entry["ref"] = _ref(person)
            entry["name"] = _display_name(person, entry.pop("label"), entry["diffs"]) or entry["source_id"]
        result[action] = {"total": total or 0, "people": list(people.values())}
    return result


def page_refs(school, issues, changes) -> dict[str, PersonRef]:
    """Name and role for every SIS record id on one page of issues and changes: two queries, not one per row."""
    changes = list(changes)
    by_id = people_by_id(c.person_id for c in changes)
    refs = {ref.source_id: ref for ref in by_id.values() if ref.source_id}
    refs.update({c.source_id: by_id[c.person_id] for c in changes if c.person_id in by_id and c.source_id})
    missing = {i.source_id for i in issues} | {c.source_id for c in changes}
    refs.update(people_by_source(school.id, missing - refs.keys()))
    return refs


def skipped_people(run, page: int, per_page: int):
    """One page of the people the run left as they were, each with the reason in words and a link."""
    query = (db.select(SyncChange).where(SyncChange.run_id == run.id, SyncChange.action == "skip")
             .order_by(SyncChange.id))
    skips = db.paginate(query, page=page, per_page=per_page, error_out=False)
    refs = people_by_id(s.person_id for s in skips.items)
    skips.rows = [{"source_id": s.source_id, "ref": refs.get(s.person_id), "name": s.after,
                   "reason": skip_reason(s.field)} for s in skips.items]
    return skips


def skip_summary(run) -> list[tuple[str, int]]:
    """(reason in words, how many) for a run's skipped people, most common first."""
    rows = db.session.execute(
        db.select(SyncChange.field, func.count()).where(SyncChange.run_id == run.id, SyncChange.action == "skip")
        .group_by(SyncChange.field).order_by(func.count().desc(), SyncChange.field))
    return [(skip_reason(reason), count) for reason, count in rows]
