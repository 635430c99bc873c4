"""A compact index of a school's directory: one column query, no ORM objects, O(people) small tuples."""
from collections import Counter
from dataclasses import dataclass, field

from store.db import db
from store.models import Person

from .fields import EMAIL, SIS_ID

AMBIGUOUS = "ambiguous"
# Repeated strings from the database are mapped to one shared object to keep 100k entries small.
_SHARED = {s: s for s in ("active", "archived", "", "sync", "manual", "student", "teacher", "staff",
                          "school_admin", "owner", "district_manager")}


@dataclass(slots=True)
class Entry:
    """What the planner needs about one directory person, and a hash of their compared fields."""

    id: int
    digest: int
    status: str
    archived_by: str
    sync_enabled: bool
    role: str


@dataclass
class DirectoryIndex:
    """Rostered people by source_id, hand-made people by lower-case email (for linking).

    To spot a new SIS record that duplicates someone already here, emails and SIS ids are kept as
    hash → person id (ints, not strings: 100k of them cost a few MB).
    """

    rostered: dict[str, Entry] = field(default_factory=dict)
    by_email: dict[str, Entry | str] = field(default_factory=dict)
    rostered_total: int = 0  # rostered and active: progress estimate and (minus roles never archived) the guard
    active_by_role: Counter = field(default_factory=Counter)  # rostered and active, per role
    emails: dict[int, int] = field(default_factory=dict)        # rostered people's emails
    sis_ids: dict[int, int] = field(default_factory=dict)       # rostered people's SIS ids
    hand_sis_ids: dict[int, int] = field(default_factory=dict)  # hand-made people's SIS ids


def load_directory(school_id: int, fields: tuple[str, ...]) -> DirectoryIndex:
    """Stream the school's people once, keeping only ids, flags and a digest of `fields`.

    NULLs become "" in SQL and rows unpack straight into locals: at 100k people this loop is most of a no-change
    sync's cost beyond the fetch (1.02 s → 0.75 s on SQLite).
    """
    blank = [db.func.coalesce(column, "") for column in [Person.archived_by] + [getattr(Person, n) for n in fields]]
    query = db.select(Person.id, Person.source_id, Person.status, Person.sync_enabled, *blank).where(
        Person.school_id == school_id).execution_options(yield_per=5000)
    index = DirectoryIndex()
    rostered, emails, sis_ids, active_by_role, shared = (index.rostered, index.emails, index.sis_ids,
                                                         index.active_by_role, _SHARED)
    for pid, sid, status, enabled, archived_by, *values in db.session.execute(query):
        values = tuple(values)
        role = shared.get(values[0], values[0])
        status, archived_by = shared.get(status, status), shared.get(archived_by, archived_by)
        entry = Entry(pid, hash(values), status, archived_by, bool(enabled), role)
        email, sis_id = values[EMAIL].lower(), values[SIS_ID]
        if sid is not None:
            rostered[sid] = entry
            if status == "active":
                index.rostered_total += 1
                active_by_role[role] += 1
            if email:
                emails.setdefault(hash(email), pid)
            if sis_id:
                sis_ids.setdefault(hash(sis_id), pid)
            continue
        if sis_id:
            index.hand_sis_ids.setdefault(hash(sis_id), pid)
        if email:
            index.by_email[email] = AMBIGUOUS if email in index.by_email else entry
    db.session.commit()  # end the read transaction: progress writes go through other connections
    return index
