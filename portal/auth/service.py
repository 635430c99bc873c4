"""Sign-in and password rules, outside the views so they can be tested plainly."""
import re

from werkzeug.security import check_password_hash, generate_password_hash

from store.db import db
from store.models import Person

from .emails import MAX_EMAIL, normalise_email
from .sessions import end_all_rows

MIN_PASSWORD = 12
MAX_PASSWORD = 256
LENGTH_MESSAGE = f"Use at least {MIN_PASSWORD} characters (at most {MAX_PASSWORD})."
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

# Checked when the email is unknown, so both failures take about as long (no user enumeration).
_DUMMY_HASH = generate_password_hash("not-a-real-password")


def sign_in_account(email: str) -> Person | None:
    """The account that signs in with this email, if any (an address no account could have matches none)."""
    email = normalise_email(email)
    if not email or len(email) > MAX_EMAIL or _CONTROL.search(email):  # PostgreSQL refuses NUL in a query
        return None
    return db.session.scalar(db.select(Person).where(Person.email == email, Person.password_hash.is_not(None)))


def authenticate(email: str, password: str) -> Person | None:
    """The active sign-in account for these credentials, or None (same answer for every failure)."""
    person = sign_in_account(email)
    if person is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not person.check_password(password) or person.status != "active":
        return None
    return person


def password_problem(password: str, email: str) -> str | None:
    """Why this new password is refused, or None when it is fine (forms and the CLI share this)."""
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        return LENGTH_MESSAGE
    if _CONTROL.search(password):
        return "A password cannot contain line breaks or control characters."
    if normalise_email(password) == normalise_email(email):
        return "Your password must not be your email address."
    if len(set(password)) < 4:
        return "Use a password with more variety than a repeated character or two."
    return None


def set_new_password(person: Person, password: str) -> None:
    """Store the new password and end every session of the account (the caller may start a new one)."""
    person.set_password(password)
    end_all_rows(person)
    db.session.commit()
