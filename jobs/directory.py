"""Load a school's directory into the planner's index: one column query, no ORM objects, O(people) small tuples."""
from store.db import db
from store.models import ROSTER_MANAGER_ROLES, District, Person, School

from .fields import SEPARATOR, pack_current
from .plan import DirectoryIndex, Entry

# Repeated strings from the database are mapped to one shared object to keep 100k entries small.
_SHARED = {s: s for s in ("active", "archived", "", "sync", "manual", "student", "teacher", "staff",
                          "school_admin", "owner", "district_manager")}


def load_directory(school_id: int, district_id: int, fields: tuple[str, ...]) -> DirectoryIndex:
    """Stream the school's people once, keeping ids, flags and the current values of `fields`; plus every other
    account of the school's district that can sign in (its other schools', its managers), whose emails no new record
    may take. Another district's accounts are not loaded at all: any issue, refusal or skip an address of theirs
    caused would tell this school who signs in there (from guessed emails), so such an address is like any other.

    The database packs each person's values into the planner's one string (NULLs as "", joined by the separator),
    so a row is a few columns that unpack straight into locals: at 100k people this loop is most of a no-change
    sync's cost beyond the fetch. The query runs on the session's connection (Core), not through the ORM session,
    whose per-row loading layer cost a third more (1.4 → 0.9 CPU s at 100k).
    """
    packed = _packed(fields)
    query = db.select(Person.id, Person.source_id, Person.status, Person.sync_enabled, Person.can_sign_in,
                      db.func.coalesce(Person.archived_by, ""), db.func.coalesce(Person.role, ""),
                      db.func.coalesce(Person.email, ""),
                      db.func.coalesce(Person.sis_id, ""), packed
                      ).where(Person.school_id == school_id).execution_options(yield_per=5000)
    index = DirectoryIndex(manager_roles=frozenset(ROSTER_MANAGER_ROLES))
    add, shared, separators, typed = index.add, _SHARED, len(fields) - 1, []
    for pid, sid, status, enabled, signs_in, archived_by, role, email, sis_id, values in \
            db.session.connection().execute(query):
        role = shared.get(role, role)
        entry = Entry(pid, values, shared.get(status, status), shared.get(archived_by, archived_by),
                      bool(enabled), role, sid is not None, bool(signs_in))
        add(entry, sid, email.lower(), sis_id)
        if values.count(SEPARATOR) != separators:  # a value typed by hand holds the separator: see pack_current
            typed.append(entry)
    if typed:
        _unpack_typed(typed, fields)
    for given, family, email, school, district, manager_here in db.session.execute(
            _elsewhere(school_id, district_id)):
        index.add_account_elsewhere(f"{given or ''} {family or ''}".strip(), (email or "").strip().lower(),
                                    "" if manager_here else (school or district or ""))
    db.session.commit()  # end the read transaction: progress writes go through other connections
    return index


def _packed(fields: tuple[str, ...]):
    """SQL: the values of `fields` as one string, NULLs as "", joined by the separator (what pack() makes)."""
    joined = db.func.coalesce(getattr(Person, fields[0]), "")
    for name in fields[1:]:
        joined = joined + SEPARATOR + db.func.coalesce(getattr(Person, name), "")
    return joined


def _unpack_typed(entries: list[Entry], fields: tuple[str, ...]) -> None:
    """The people whose packed values cannot be split again keep them as a tuple instead (pack_current's rule)."""
    by_id = {entry.id: entry for entry in entries}
    query = db.select(Person.id, *[db.func.coalesce(getattr(Person, name), "") for name in fields])
    for pid, *values in db.session.connection().execute(query.where(Person.id.in_(list(by_id)))):
        by_id[pid].values = pack_current(tuple(values))


def _elsewhere(school_id: int, district_id: int):
    """One query for every sign-in account of the district outside the school: (given, family, email, its school's
    name, its district's name, is a manager of this school's district). Sign-in accounts are the few staff with passwords, so
    this is small next to the school's own people; the partial index ix_person_sign_in serves it.

    "Another school" is spelled `school_id < id OR school_id > id`, not `!=`: ranges are conditions on the index's
    leading column, so PostgreSQL scans the partial index even without statistics (a table never analysed, as after
    a first night's bulk create with autovacuum behind or off). With `!=` it read the whole person table instead,
    once per school: 18 ms a school at 92,000 people (0.08 ms now), growing with the district."""
    return (db.select(Person.given_name, Person.family_name, Person.email, School.name, District.name,
                      db.and_(Person.school_id.is_(None), Person.district_id == district_id))
            .outerjoin(School, School.id == Person.school_id).outerjoin(District, District.id == Person.district_id)
            .where(Person.can_sign_in, Person.email.is_not(None), Person.email != "",
                   db.or_(Person.school_id.is_(None), Person.school_id < school_id, Person.school_id > school_id),
                   in_district(district_id)))


def in_district(district_id: int):
    """SQL: a person (outer-joined to their School) is of this district: at one of its schools, or a district
    account. Sign-in accounts outside it never show in a school's runs (issues, skips, undo), named or not."""
    return db.or_(School.district_id == district_id, Person.district_id == district_id)
