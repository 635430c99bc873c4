"""Who an SIS record id (sourcedId) belongs to: name and role, looked up in bulk (one query per page of rows)."""
from dataclasses import dataclass

from store.db import db
from store.models import ROLE_LABELS, Person

CHUNK = 1000  # ids per IN list


@dataclass(frozen=True)
class PersonRef:
    """A person as a row beside an id names them: the link target in People, the name and the role."""

    id: int
    source_id: str
    name: str
    role: str
    status: str

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role, self.role)

    @property
    def search(self) -> str:
        """What People is searched for to show exactly this person (the sourcedId, which People also searches)."""
        return self.source_id


def people_by_source(school_id: int, source_ids) -> dict[str, PersonRef]:
    """The school's people with these sourcedIds, by sourcedId (ids nobody has are left out)."""
    refs = _refs(Person.source_id, {sid for sid in source_ids if sid}, Person.school_id == school_id)
    return {ref.source_id: ref for ref in refs}


def people_by_id(person_ids) -> dict[int, PersonRef]:
    """The same, by person id (a change row keeps the person's id when it has one)."""
    return {ref.id: ref for ref in _refs(Person.id, {pid for pid in person_ids if pid})}


def _refs(column, wanted: set, *where) -> list[PersonRef]:
    """The people whose `column` is one of `wanted`, read CHUNK ids per query so no IN list grows unbounded."""
    ordered = sorted(wanted)
    found: list[PersonRef] = []
    for start in range(0, len(ordered), CHUNK):
        rows = db.session.execute(
            db.select(Person.id, Person.source_id, Person.given_name, Person.family_name, Person.email, Person.role,
                      Person.status)
            .where(*where, column.in_(ordered[start:start + CHUNK])))
        for pid, sid, given, family, email, role, status in rows:
            name = " ".join(p for p in (given, family) if p) or email or sid or ""
            found.append(PersonRef(pid, sid or "", name, role, status))
    return found
