"""Drive a running sandbox SIS over its admin API (the demo's "Simulate SIS changes"); pure: no Flask, no database."""
from urllib.parse import urlsplit

import requests

from ..errors import ConnectorError

TIMEOUT_SECONDS = 10


class SandboxUnavailable(ConnectorError):
    """The demo sandbox did not answer or refused the request; the message says what to do."""


def same_origin(admin_url: str, base_url: str) -> bool:
    """True when a school's connection URL points at the sandbox behind `admin_url` (scheme, host and port)."""
    a, b = urlsplit(admin_url), urlsplit(base_url)
    return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)


def simulate_changes(admin_url: str, school_id: str, *, renames: int, removals: int, additions: int,
                     seed: int | None = None) -> dict:
    """Ask the sandbox to rename, remove and add people of one school; returns the sourcedIds it chose."""
    body = {"action": "simulate", "school_id": school_id, "renames": renames, "removals": removals,
            "additions": additions, "seed": seed}
    try:
        response = requests.post(admin_url, json=body, timeout=TIMEOUT_SECONDS)
    except requests.RequestException as exc:
        raise SandboxUnavailable(f"The demo sandbox SIS at {admin_url} did not answer ({type(exc).__name__}). "
                                 "Is `make demo` still running?") from None
    try:
        answer = response.json()
    except ValueError:
        answer = {}
    if response.status_code != 200 or not isinstance(answer, dict) or "renamed" not in answer:
        reason = answer.get("error", f"HTTP {response.status_code}") if isinstance(answer, dict) else "no answer"
        raise SandboxUnavailable(f"The demo sandbox SIS refused the change: {reason}.")
    return answer
