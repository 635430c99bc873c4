"""The person fields a sync compares and writes, normalised the same way for SIS and directory values.

Pure (no Flask, no database): the planner uses it. tests/jobs/test_planner.py checks LIMITS against the columns.
"""
from connectors.records import PersonRecord

FIELDS = ("role", "given_name", "middle_name", "family_name", "email", "username", "sis_id", "grade", "phone")
PARENT_FIELDS = ("parent_name", "parent_email", "parent_phone")
GIVEN_NAME, FAMILY_NAME = FIELDS.index("given_name"), FIELDS.index("family_name")
EMAIL = FIELDS.index("email")
SIS_ID = FIELDS.index("sis_id")
# The person table's column lengths (String(n)); a test holds them equal to the model.
LIMITS = {"role": 32, "given_name": 200, "middle_name": 200, "family_name": 200, "email": 320, "username": 200,
          "sis_id": 200, "grade": 50, "phone": 100, "parent_name": 400, "parent_email": 320, "parent_phone": 100}
SOURCE_ID_LIMIT = 255  # Person.source_id's length (and the change log's): a longer sourcedId cannot be stored
SEPARATOR = "\x1f"  # unit separator: never in names or emails; one string per planned person saves memory


def pack(values: tuple[str, ...]) -> str:
    return SEPARATOR.join(values)


def unpack(packed: str) -> list[str]:
    return packed.split(SEPARATOR)


def pack_current(values: tuple[str, ...]) -> str | tuple[str, ...]:
    """A directory person's values as the index keeps them: packed, unless a value holds the separator itself
    (typed by hand; SIS values never do), which packing could not tell apart."""
    packed = SEPARATOR.join(values)
    return packed if packed.count(SEPARATOR) == len(values) - 1 else values


def current_values(stored: str | tuple[str, ...]) -> tuple[str, ...] | list[str]:
    return unpack(stored) if isinstance(stored, str) else stored


def fit(value: str, name: str) -> str:
    """Cut a value to its column so one over-long SIS field cannot fail the whole apply."""
    limit = LIMITS[name]
    value = value.replace(SEPARATOR, " ") if SEPARATOR in value else value
    return value if len(value) <= limit else value[:limit]


_COMPARED = FIELDS[1:]  # role comes from a fixed set of names and needs no cut
_SHORT = min(LIMITS[name] for name in _COMPARED + PARENT_FIELDS)  # values no longer than this fit every column


def record_values(record: PersonRecord, contact: tuple[str, str, str] | None) -> tuple[str, ...]:
    """Comparable values of an incoming person; `contact` is None when parent fields are not synced."""
    return incoming(record, contact)[0]


def incoming(record: PersonRecord, contact: tuple[str, str, str] | None) -> tuple[tuple[str, ...], str]:
    """An incoming person's comparable values and the same packed, built once (the planner needs both for
    nearly every record: packed to store or compare, the tuple for emails, SIS ids and diffs)."""
    values = (record.role, record.given_name, record.middle_name, record.family_name, record.email.lower(),
              record.username, record.identifier, ",".join(record.grades), record.phone)
    if contact is not None:
        values += contact
    packed = SEPARATOR.join(values)
    # Nearly every SIS value is short and plain: then `fit` would change nothing, and checking them all at once
    # (in C) saves a call per field on every record of a large roster. (The role is one of a few short names.)
    if max(map(len, values)) > _SHORT or packed.count(SEPARATOR) != len(values) - 1:
        values = (record.role,) + tuple(fit(v, n) for v, n in zip(values[1:], _COMPARED + PARENT_FIELDS))
        packed = SEPARATOR.join(values)
    return values, packed


def field_names(compare_parents: bool) -> tuple[str, ...]:
    return FIELDS + PARENT_FIELDS if compare_parents else FIELDS
