"""When a saved SIS secret may be used again: only for what it was saved for.

A form or CLI call that leaves the secret blank asks to reuse the stored one. That is allowed only
when the typed settings would send it to the same places as the saved settings: the same vendor,
the same origin (scheme://host:port) of the base URL and of every token URL (after the vendor's own
derivation: Aeries' token URLs come from the base URL, Infinite Campus' from its host and App Name),
the same auth mode and the same Client ID. Anything else needs the secret typed again, so a user
cannot aim the stored secret at an address of their choosing. Pure: no Flask, no database.
"""
from urllib.parse import urljoin, urlsplit

from .errors import BadResponse
from .settings import ConnectionSettings
from .transport import public_url

DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str) -> str:
    """scheme://host:port with the default port spelled out, lower-cased; "" for an unreadable URL."""
    try:
        parts = urlsplit((url or "").strip())
        port = parts.port
    except ValueError:
        return ""
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if not scheme or not host:
        return ""
    port = port or DEFAULT_PORTS.get(scheme, 0)
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}:{port}"


def credential_origins(settings: ConnectionSettings) -> frozenset[str]:
    """Every origin these settings send credentials to: the data (base) URL and each token URL."""
    return frozenset(o for o in (origin_of(u) for u in (settings.base_url, *settings.token_urls)) if o)


def reuse_refusal(saved: ConnectionSettings | None, typed: ConnectionSettings) -> str:
    """"" when the saved secret may be used for `typed`, else the message shown next to the secret field.

    `saved` is None when the stored settings cannot be read back (then the secret is always needed).
    """
    if saved is None:
        return "Enter the secret again: the saved connection could not be read back."
    if saved.vendor != typed.vendor:
        return "Enter the secret again: the SIS changed."
    if origin_of(saved.base_url) != origin_of(typed.base_url):
        return "Enter the secret again: the address changed."
    if saved.auth_mode != typed.auth_mode:
        return "Enter the secret again: the authentication method changed."
    if {origin_of(u) for u in saved.token_urls} != {origin_of(u) for u in typed.token_urls}:
        return "Enter the secret again: the token address changed."
    if saved.client_id != typed.client_id:
        return "Enter the secret again: the Client ID changed."
    return ""


def stay_on_origins(origins: frozenset[str]):
    """A requests response hook that refuses a redirect to any origin but `origins`.

    requests 2.34 drops the Authorization header on a redirect to another host or port, but still
    sends the request (a 307/308 re-sends the body) and reads the other host's answer as if the SIS
    had sent it; refusing first keeps credentials and data on the saved addresses (same-origin
    redirects, e.g. a trailing slash, are still followed).
    """
    def hook(response, **_kwargs):
        if not response.is_redirect:
            return response
        target = _redirect_target(response.url, response.headers.get("Location", ""))
        if origin_of(target) in origins:
            return response
        response.close()
        where = _where(target, response.url)
        raise BadResponse(f"The SIS at {urlsplit(response.url).netloc} sent the request on to {where} "
                          f"(HTTP {response.status_code}), which is "
                          "not an address saved for this connection, so the portal did not follow it. If the SIS "
                          "has moved, enter its new address (and the secret again).",
                          status=response.status_code, url=public_url(response.url))
    return hook


def _redirect_target(url: str, location: str) -> str:
    """The absolute redirect target, or "" when the SIS's Location cannot be read as a URL."""
    try:
        return urljoin(url, location)
    except ValueError:  # e.g. "http://[::1": urllib refuses an unclosed IPv6 host
        return ""


def _where(target: str, origin: str) -> str:
    """The redirect's host, with its scheme when only that changed (https to http behind a misconfigured proxy would
    otherwise read "sent on to sis.example.org" from sis.example.org)."""
    try:
        parts = urlsplit(target)
    except ValueError:
        parts = None
    if parts is None or not parts.netloc:
        return "an address that cannot be read"
    if parts.scheme.lower() != urlsplit(origin).scheme.lower():
        return f"{parts.scheme}://{parts.netloc}"
    return parts.netloc
