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


def record_values(record: PersonRecord, contact: tuple[str, str, str] | None) -> tuple[str, ...]:
    """Comparable values of an incoming person; `contact` is None when parent fields are not synced."""
    values = (
        record.role,
        fit(record.given_name, "given_name"),
        fit(record.middle_name, "middle_name"),
        fit(record.family_name, "family_name"),
        fit(record.email.lower(), "email"),
        fit(record.username, "username"),
        fit(record.identifier, "sis_id"),
        fit(",".join(record.grades), "grade"),
        fit(record.phone, "phone"),
    )
    if contact is None:
        return values
    return values + tuple(fit(v, n) for v, n in zip(contact, PARENT_FIELDS))


def field_names(compare_parents: bool) -> tuple[str, ...]:
    return FIELDS + PARENT_FIELDS if compare_parents else FIELDS
