"""Sign-in rules, outside the views so they can be tested plainly."""
from werkzeug.security import check_password_hash, generate_password_hash

from ..extensions import db
from ..models import Person

# Checked when the email is unknown, so both failures take about as long (no user enumeration).
_DUMMY_HASH = generate_password_hash("not-a-real-password")


def authenticate(email: str, password: str) -> Person | None:
    """The active sign-in account for these credentials, or None (same answer for every failure)."""
    person = db.session.scalar(
        db.select(Person).where(Person.email == email.strip().lower(), Person.password_hash.is_not(None))
    )
    if person is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not person.check_password(password) or person.status != "active":
        return None
    return person
