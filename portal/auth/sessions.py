"""Server-side sign-in sessions: each sign-in gets a SignInSession row, and its cookies carry only that row's
random token (as Flask-Login's alternative id), so ending the row ends the session cookie and the remember
cookie alike, wherever they were copied to.

Flask-Login stores `get_id()` in the session and, when asked to remember, in the signed `remember_token`
cookie, and hands it back to the user loader on every request ("Alternative Tokens",
https://flask-login.readthedocs.io/en/latest/#alternative-tokens).
"""
import hashlib
import secrets
from datetime import timedelta

from flask import current_app, session
from flask_login import current_user, login_user, logout_user

from store.db import db
from store.models import AuditEvent, Person, School, SignInSession, utcnow

MAX_REMEMBER = timedelta(days=30)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def remember_for() -> timedelta:
    """How long "Keep me signed in" lasts: the configured time, never more than 30 days."""
    return min(current_app.config["REMEMBER_COOKIE_DURATION"], MAX_REMEMBER)


def begin(person: Person, remember: bool) -> None:
    """Sign this browser in with a new session: nothing from before (CSRF token included) carries over."""
    now = utcnow()
    lifetime = remember_for() if remember else timedelta(hours=current_app.config["SIGNIN_SESSION_HOURS"])
    db.session.execute(db.delete(SignInSession).where(SignInSession.person_id == person.id,
                                                      SignInSession.expires_at <= now))
    token = secrets.token_urlsafe(32)
    db.session.add(SignInSession(person_id=person.id, token_hash=_hash(token), person_token=person.session_token,
                                 remember=remember, created_at=now, expires_at=now + lifetime))
    db.session.commit()
    session.clear()  # a new session cookie: a planted or copied one from before sign-in stays anonymous
    person.sign_in_token = token
    login_user(person, remember=remember, duration=remember_for())


def person_for(user_id: str) -> Person | None:
    """The user loader: the account of a live session row, or None (signed out, expired or superseded)."""
    if not user_id or len(user_id) > 100:
        return None
    # Expiry compared in SQL: SQLite (the demo) hands back naive datetimes.
    record = db.session.scalar(db.select(SignInSession).where(SignInSession.token_hash == _hash(user_id),
                                                              SignInSession.expires_at > utcnow()))
    if record is None:
        return None
    person = record.person
    if person.session_token != record.person_token or not person.password_hash or person.status != "active":
        return None
    person.sign_in_token = user_id
    return person


def end_this() -> None:
    """Sign out: delete this session's row, then clear the cookie session and drop the remember cookie."""
    token = getattr(current_user, "sign_in_token", None)
    if token:
        db.session.execute(db.delete(SignInSession).where(SignInSession.token_hash == _hash(token)))
        db.session.commit()
    session.clear()
    logout_user()  # after clear(): it leaves the flag that makes Flask-Login delete the remember cookie


def end_everywhere(person: Person) -> int:
    """End every session of this account (this one included) and audit it; returns how many ended."""
    live = db.session.scalars(db.select(SignInSession).where(SignInSession.person_id == person.id,
                                                             SignInSession.expires_at > utcnow())).all()
    db.session.execute(db.delete(SignInSession).where(SignInSession.person_id == person.id))
    detail = f"Ended {len(live)} signed-in session{'' if len(live) == 1 else 's'} of their own account."
    for school_id in _audited_schools(person):
        db.session.add(AuditEvent(school_id=school_id, actor_id=person.id, action="signed_out_everywhere",
                                  detail=detail))
    db.session.commit()
    session.clear()
    logout_user()
    return len(live)


def end_all_rows(person: Person) -> None:
    """Forget every session row of this account (after a password change or reset, which ended them)."""
    db.session.execute(db.delete(SignInSession).where(SignInSession.person_id == person.id))


def _audited_schools(person: Person) -> list[int]:
    """The audit log is per school: an owner's school, or every school a district manager manages."""
    if person.role == "district_manager" and person.district_id:
        return list(db.session.scalars(db.select(School.id).where(School.district_id == person.district_id)))
    return [person.school_id] if person.school_id else []
