"""SFTP drop accounts: one per school or district CSV source, made and changed by an owner or district manager
(audited on the school, or on the source's district), checked by the server. Plain functions over the database;
the page and the server process both call them."""
import secrets
import shutil
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from flask import current_app
from werkzeug.security import check_password_hash, generate_password_hash

from jobs.bundle_files import CSV_METHOD
from jobs.source_bundles import CSV_SOURCE
from store.db import db
from store.models import AuditEvent, DistrictAuditEvent, RosterConnection, SftpAccount, Source, utcnow

from .keys import authorized_keys_of, parse_keys

# 24 letters and digits (about 139 bits), none that look alike (0/O, 1/l/I) and no leading dash: shown once, then
# typed or pasted into the SIS's SFTP settings.
PASSWORD_ALPHABET = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
PASSWORD_LENGTH = 24


@dataclass(frozen=True)
class Login:
    """What the server keeps of an account for one connection (never the password hash)."""
    account_id: int
    school_id: int | None
    username: str
    folder: Path
    source_id: int | None = None  # a district CSV source's account: what it receives goes to the source
    refusal: str = ""  # why nothing sent to this account is read (its school follows a district source)


def account_of(owner) -> SftpAccount | None:
    """The account of a school, or of a district CSV source."""
    column = SftpAccount.source_id if isinstance(owner, Source) else SftpAccount.school_id
    return db.session.scalar(db.select(SftpAccount).where(column == owner.id))


def source_username(source) -> str:
    """A source's user name, "district_source_<id>": school slugs have no underscore, so no school's folder."""
    return f"district_source_{int(source.id)}"


def _audit(account: SftpAccount, actor, action: str, detail: str) -> None:
    if account.source_id is not None:
        DistrictAuditEvent.record(account.source.district, actor, action, f"{account.source.name}: {detail}")
    else:
        AuditEvent.record(account.school, actor, action, detail)


def folder_of(username: str) -> Path:
    """The account's own folder: the root it sees (usernames are school slugs, so never '.' or '..')."""
    return Path(current_app.config["SFTP_ROOT"]) / username


def new_password() -> str:
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(PASSWORD_LENGTH))


def create_account(school, actor) -> tuple[SftpAccount, str]:
    """The school's account with a new password (returned once, stored hashed); its folder is made."""
    account = SftpAccount(school_id=school.id, username=school.slug, authorized_keys="")
    password = new_password()
    account.set_password(password)
    db.session.add(account)
    AuditEvent.record(school, actor, "sftp_account_created", f"SFTP account {account.username} created")
    db.session.commit()
    folder_of(account.username).mkdir(mode=0o700, parents=True, exist_ok=True)
    return account, password


def create_source_account(source, actor) -> tuple[SftpAccount, str]:
    """A district CSV source's account with a new password (returned once, stored hashed); its folder is made.
    """
    username = source_username(source)
    account = SftpAccount(source_id=source.id, username=username, authorized_keys="")
    account.source = source
    password = new_password()
    account.set_password(password)
    db.session.add(account)
    _audit(account, actor, "sftp_account_created", f"SFTP account {account.username} created")
    db.session.commit()
    folder_of(account.username).mkdir(mode=0o700, parents=True, exist_ok=True)
    return account, password


def reset_password(account: SftpAccount, actor) -> str:
    """A new password (the old one stops working now); returned once, stored hashed."""
    password = new_password()
    account.set_password(password)
    _audit(account, actor, "sftp_password_reset", f"SFTP password of {account.username} reset")
    db.session.commit()
    return password


def remove_password(account: SftpAccount, actor) -> None:
    """Keys only from now on."""
    account.password_hash = None
    _audit(account, actor, "sftp_password_removed",
                      f"SFTP password of {account.username} removed (SSH keys only)")
    db.session.commit()


def save_keys(account: SftpAccount, text: str, actor) -> list:
    """Replace the account's public keys (InvalidKeys names a bad line and nothing is saved)."""
    keys = parse_keys(text)
    account.authorized_keys = "\n".join(key.line for key in keys)
    detail = ", ".join(key.fingerprint for key in keys) or "none"
    _audit(account, actor, "sftp_keys_changed", f"SFTP keys of {account.username}: {detail}")
    db.session.commit()
    return keys


def remove_account(account: SftpAccount, actor) -> None:
    """The account stops working at once; files already received stay in the school's bundles, anything left in
    its folder (a temporary name never completed) is deleted."""
    _audit(account, actor, "sftp_account_removed", f"SFTP account {account.username} removed")
    db.session.delete(account)
    db.session.commit()
    shutil.rmtree(folder_of(account.username), ignore_errors=True)


def _login(account: SftpAccount) -> Login:
    return Login(account.id, account.school_id, account.username, folder_of(account.username), account.source_id,
                 _refusal(account))


def _refusal(account: SftpAccount) -> str:
    """What the SIS is told when it sends files to an account whose files are no longer read: a school that now
    follows a district source or reads its SIS's API, or a district source switched to the API. The upload used to
    succeed, and the bundle was then refused or left unread where nobody looked (the page hides the account)."""
    if account.school_id is None:
        source = account.source
        if source is None or source.method == CSV_SOURCE:
            return ""
        return (f"The district source {source.name} now reads the SIS's API, so files sent to {account.username} are "
                "not read. Stop sending them, or ask a District Manager to choose the OneRoster CSV method again.")
    conn = db.session.scalar(db.select(RosterConnection).where(RosterConnection.school_id == account.school_id))
    if conn is None:
        return ""
    if conn.source is None:
        if conn.method == CSV_METHOD:
            return ""
        return (f"{conn.school.name} now syncs from the OneRoster API (the Method on its Rostering page), so files "
                f"sent to {account.username} are not read. Stop sending them, or ask an owner to choose OneRoster CSV "
                "as the Method again.")
    school, source = conn.school.name, conn.source
    if source.method == CSV_SOURCE:
        return (f"{school} now receives its roster through the district source {source.name}, so files sent to "
                f"{account.username} are not read. Send them as the SFTP user {source_username(source)} (a District "
                "Manager has its password or key).")
    return (f"{school} now syncs from the district source {source.name}, which reads the SIS's API, so files sent "
            f"to {account.username} are not read. Stop sending them, or ask a District Manager.")


def find_login(username: str) -> tuple[Login | None, object]:
    """The account by user name for a new connection, and its authorized keys (None when it has none)."""
    account = db.session.scalar(db.select(SftpAccount).where(SftpAccount.username == username))
    db.session.rollback()
    if account is None:
        return None, None
    return _login(account), authorized_keys_of(account.authorized_keys)


def password_login(username: str, password: str) -> Login | None:
    """The account if this is its password (a wrong user name costs the same hash check)."""
    account = db.session.scalar(db.select(SftpAccount).where(SftpAccount.username == username))
    if account is None or not account.password_hash:
        check_password_hash(_dummy_hash(), password)
        db.session.rollback()
        return None
    ok = account.check_password(password)
    db.session.rollback()
    return _login(account) if ok else None


def signed_in(account_id: int) -> None:
    account = db.session.get(SftpAccount, account_id)
    if account is not None:
        account.last_login_at = utcnow()
        db.session.commit()


@cache
def _dummy_hash() -> str:
    return generate_password_hash(secrets.token_urlsafe(16))
