"""Password reset by emailed link: a signed, time-limited token that works once.

The token carries a fingerprint of the current password hash, so it stops working as soon as
the password changes (single use) and a newer reset makes older links useless too.
"""
import hashlib
import hmac
import logging
import smtplib

from flask import current_app
from itsdangerous import BadData, URLSafeTimedSerializer
from redis.exceptions import RedisError

from jobs.email_message import EncodedMessage
from store.db import db
from store.models import Person

from ..extensions import mail
from . import throttle
from .service import sign_in_account

SENT_MESSAGE = "If an account exists for that address, we have emailed a link."
MAX_TOKEN_LENGTH = 400
log = logging.getLogger(__name__)


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="password-reset")


def _fingerprint(person: Person) -> str:
    return hashlib.sha256((person.password_hash or "").encode()).hexdigest()[:20]


def make_token(person: Person) -> str:
    return _serializer().dumps({"id": person.id, "pw": _fingerprint(person)})


def person_for_token(token: str) -> Person | None:
    """The account a valid, unexpired, unused token belongs to; None for anything else."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    try:
        data = _serializer().loads(token, max_age=current_app.config["PASSWORD_RESET_MAX_AGE"])
    except BadData:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("id"), int) or not isinstance(data.get("pw"), str):
        return None
    person = db.session.get(Person, data["id"])
    if person is None or not person.password_hash or person.status != "active":
        return None
    if not hmac.compare_digest(_fingerprint(person), data["pw"]):
        return None
    return person


def reset_link(person: Person) -> str:
    """Built from PORTAL_BASE_URL, never the request's Host header (which an attacker controls)."""
    base = current_app.config["PORTAL_BASE_URL"].rstrip("/")
    # Bound here rather than url_for: the email is sent from a job, where there is no request.
    return base + current_app.url_map.bind("").build("auth.reset_password", {"token": make_token(person)})


def request_reset_email(email: str) -> bool:
    """Queue the lookup and the email for every address alike, so the response time cannot tell an
    attacker whether an account exists (sending the email inside the request took visibly longer).

    False when the queue is unreachable: that is true of every address alike, so saying so reveals nothing.
    """
    try:
        current_app.mail_queue.enqueue("portal.auth.reset.send_reset_email", email, job_timeout=120, result_ttl=0,
                                       failure_ttl=3600)
    except RedisError:
        log.warning("Password reset email not queued: Redis is unavailable", exc_info=True)
        return False
    return True


def send_reset_email(email: str) -> None:
    """RQ job on the mail queue: email a reset link if an active account has this address; silent either way.

    The lookup happens here, in the worker, so the web request does the same work for every address.
    """
    person = sign_in_account(email)
    if person is None or person.status != "active" or not throttle.reset_mail_allowed(email):
        return
    minutes = current_app.config["PASSWORD_RESET_MAX_AGE"] // 60
    message = EncodedMessage(  # quoted-printable, as the run report: no line over SMTP's limit
        subject="Reset your Rostering Portal password",
        recipients=[person.email],
        body=(f"Hello {person.full_name},\n\nSomeone (hopefully you) asked to reset the password of your "
              f"Rostering Portal account. Open this link within {minutes} minutes to choose a new one:\n\n"
              f"{reset_link(person)}\n\nThe link works once. If you did not ask for this, ignore this "
              "email; your password stays as it is.\n"),
    )
    try:
        mail.send(message)
    except (smtplib.SMTPException, OSError):
        log.warning("Password reset email to account %s could not be sent", person.id, exc_info=True)
