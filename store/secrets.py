"""SIS secrets encrypted at rest with MultiFernet; the first key of PORTAL_FERNET_KEYS encrypts."""
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app

from connectors.redact import Redactor

from .db import db
from .models import RosterConnection, Source

DEV_KEY_FILE = "fernet.key"


def _dev_key() -> bytes:
    """Development/test without keys: one random key kept under instance/ (production refuses to start)."""
    path = Path(current_app.instance_path) / DEV_KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(Fernet.generate_key())
    return path.read_bytes().strip()


def fernet() -> MultiFernet:
    raw = current_app.config.get("PORTAL_FERNET_KEYS", "")
    keys = [k.strip() for k in raw.split(",") if k.strip()]
    if not keys:
        if current_app.config.get("PORTAL_ENV") == "production":
            raise RuntimeError("PORTAL_FERNET_KEYS is unset; SIS secrets cannot be encrypted.")
        keys = [_dev_key().decode()]
    return MultiFernet([Fernet(k.encode()) for k in keys])


def encrypt_secret(plain: str) -> bytes:
    return fernet().encrypt(plain.encode("utf-8"))


def decrypt_secret(token: bytes) -> str:
    """Raises cryptography.fernet.InvalidToken when no configured key can read it."""
    return fernet().decrypt(bytes(token)).decode("utf-8")


def redactor_for(conn: RosterConnection | None) -> Redactor:
    """Masks the connection's saved secret (and every Authorization value) in texts shown or sent."""
    redactor = Redactor()
    if conn is not None and conn.has_secret:
        row = conn.credentials  # a mapped school's secret is its source's
        try:
            redactor.add(decrypt_secret(row.secret_encrypted), row.client_id or "")
        except InvalidToken:
            pass  # unreadable with today's keys: the general patterns still apply
    return redactor


def rotate_secrets() -> int:
    """Re-encrypt every stored secret with the first key, so older keys can then be removed."""
    box, count = fernet(), 0
    for model in (RosterConnection, Source):
        for row in db.session.scalars(db.select(model).where(model.secret_encrypted.is_not(None))):
            row.secret_encrypted = box.rotate(bytes(row.secret_encrypted))
            count += 1
    db.session.commit()
    return count
