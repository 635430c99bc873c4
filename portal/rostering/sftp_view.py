"""What the SFTP drop's part of the Rostering page shows (the full page and the account partial alike)."""
from urllib.parse import urlsplit

from flask import current_app

from ..sftp import accounts
from ..sftp.keys import host_key_fingerprint, parse_keys


def sftp_view(school, *, password="", keys_text=None, error="", notice="") -> dict:
    """What _sftp_account.html shows: the account, where to connect, the server's key fingerprint, its keys."""
    config = current_app.config
    account = accounts.account_of(school)
    keys = parse_keys(account.authorized_keys) if account and account.authorized_keys else []
    return {
        "account": account, "public_keys": keys, "password": password, "error": error, "notice": notice,
        "keys_text": account.authorized_keys if keys_text is None and account else (keys_text or ""),
        "host": public_host(config), "port": config["SFTP_PORT"],
        "fingerprint": host_key_fingerprint(config["SFTP_HOST_KEY"]),
    }


def public_host(config) -> str:
    """The host SIS administrators connect to: SFTP_PUBLIC_HOST, else the listening address unless it is a wildcard
    (0.0.0.0 means "every address", nothing to type), else the portal's own host name."""
    if config["SFTP_PUBLIC_HOST"]:
        return config["SFTP_PUBLIC_HOST"]
    if config["SFTP_HOST"] not in ("", "0.0.0.0", "::"):
        return config["SFTP_HOST"]
    return urlsplit(config["PORTAL_BASE_URL"]).hostname or "localhost"
