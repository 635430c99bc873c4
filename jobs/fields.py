"""The person fields a sync compares and writes, normalised the same way for SIS and directory values."""
from connectors.records import PersonRecord
from store.models import Person, ROSTER_MANAGER_ROLES

FIELDS = ("role", "given_name", "middle_name", "family_name", "email", "username", "sis_id", "grade", "phone")
PARENT_FIELDS = ("parent_name", "parent_email", "parent_phone")
EMAIL = FIELDS.index("email")
SIS_ID = FIELDS.index("sis_id")
LIMITS = {name: Person.__table__.c[name].type.length for name in FIELDS + PARENT_FIELDS}
NO_CONTACT = ("", "", "")
SEPARATOR = "\x1f"  # unit separator: never in names or emails; one string per planned person saves memory


def pack(values: tuple[str, ...]) -> str:
    return SEPARATOR.join(values)


def unpack(packed: str) -> list[str]:
    return packed.split(SEPARATOR)


def fit(value: str, name: str) -> str:
    """Cut a value to its column so one over-long SIS field cannot fail the whole apply."""
    limit = LIMITS[name]
    value = value.replace(SEPARATOR, " ") if SEPARATOR in value else value
    return value if len(value) <= limit else value[:limit]


def record_values(record: PersonRecord, contact: tuple[str, str, str] | None, keep_role: str | None = None
                  ) -> tuple[str, ...]:
    """Comparable values of an incoming person; `contact` is None when parent fields are not synced."""
    values = (
        keep_role or record.role,
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


def with_role(values: tuple[str, ...], role: str) -> tuple[str, ...]:
    """Owners and district managers keep their role whatever the SIS says."""
    return (role,) + values[1:] if role in ROSTER_MANAGER_ROLES else values


def field_names(compare_parents: bool) -> tuple[str, ...]:
    return FIELDS + PARENT_FIELDS if compare_parents else FIELDS
