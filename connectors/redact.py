"""One redaction for every text that may carry SIS output (messages, issues, logs, emails, CLI output).

An SIS may repeat what it was sent in its error bodies: the Basic header, the secret, the token. So
every such text goes through `redact`, which masks the known secrets in each encoding they travel in
(as typed, URL-encoded, HTML/JSON-escaped, and inside `base64(client_id:secret)` with or without the
form-encoding of RFC 6749 section 2.3.1) and, without knowing any secret, every `Authorization:` value,
Basic credentials, Bearer tokens and `client_secret=` / `access_token=` fields. Pure: stdlib only.
"""
import base64
import binascii
import html
import json
import logging
import re
import threading
from collections.abc import Iterable
from contextlib import contextmanager
from urllib.parse import quote, quote_plus

MASK = "••••"
MIN_SECRET_LENGTH = 4  # a shorter value would mask ordinary words; its encoded forms are still masked
_PERCENT = re.compile(r"%[0-9A-F]{2}")


def _with_lower_hex(forms: set[str]) -> set[str]:
    """Each form plus its spelling with lower-case percent escapes (%2f): RFC 3986 section 2.1 makes the hex
    digits' case equivalent (https://www.rfc-editor.org/rfc/rfc3986#section-2.1), and some SIS stacks write
    them lower-case when they repeat a form field (no vendor page confirms which ones do)."""
    return forms | {_PERCENT.sub(lambda m: m.group(0).lower(), f) for f in forms}

_AUTH_VALUE = re.compile(r"(?i)(\bauthorization\b[\"']?\s*[:=]\s*[\"']?)([^\r\n\"',;}<]+)")
_BASIC = re.compile(r"(?i)(\bbasic\s+)([A-Za-z0-9+/_-]{4,}={0,2})")
_BEARER = re.compile(r"(?i)(\bbearer\s+)([A-Za-z0-9._~+/-]{8,}=*)")
_FIELDS = re.compile(r"(?i)(\b(?:client_secret|consumer_secret|access_token|refresh_token|id_token|oauth_signature)"
                     r"\b[\"']?\s*[:=]\s*[\"']?)([^\s\"'&,;}<]+)")


def encoded_forms(secret: str, client_id: str = "") -> set[str]:
    """The secret as it may appear in SIS output: plain, URL-, HTML- and JSON-escaped, and in Basic headers."""
    if not secret:
        return set()
    jinja_escaped = (secret.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                     .replace("'", "&#39;").replace('"', "&#34;"))  # markupsafe's spelling, as in HTML emails
    forms = {secret, quote(secret, safe=""), quote_plus(secret), html.escape(secret), jinja_escaped,
             json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1],
             json.dumps(secret)[1:-1].replace("/", "\\/")}  # PHP's json_encode escapes slashes
    forms = _with_lower_hex({f for f in forms if len(f) >= MIN_SECRET_LENGTH})
    if not client_id:
        return forms  # a token: it travels as itself, never inside a Basic header
    pairs = {(client_id, secret), (quote_plus(client_id), quote_plus(secret)),
             (quote(client_id, safe=""), quote(secret, safe=""))}
    pairs |= {(_PERCENT.sub(lambda m: m.group(0).lower(), u), _PERCENT.sub(lambda m: m.group(0).lower(), p))
              for u, p in pairs}
    for user, password in pairs:
        pair = f"{user}:{password}".encode()
        for encoded in (base64.b64encode(pair), base64.urlsafe_b64encode(pair)):
            text = encoded.decode()
            forms.update({text, text.rstrip("=")})
        forms.add(f"{user}:{password}")
    return forms


def _basic(match: re.Match) -> str:
    """Mask `Basic <base64>` when it decodes to user:password (so "Basic Mathematics" stays readable)."""
    value = match.group(2)
    try:
        decoded = base64.b64decode(value + "=" * (-len(value) % 4), altchars=b"-_" if "-" in value or "_" in value
                                   else None, validate=True)
    except (binascii.Error, ValueError):
        return match.group(0)
    return f"{match.group(1)}{MASK}" if b":" in decoded else match.group(0)


def _bearer(match: re.Match) -> str:
    """Mask `Bearer <token>`; a token has a digit or punctuation (so "bearer services" stays readable)."""
    value = match.group(2)
    return f"{match.group(1)}{MASK}" if not value.isalpha() else match.group(0)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every given secret form and every credential-looking value replaced by ••••."""
    if not text:
        return text
    text = str(text)
    for form in sorted(set(secrets), key=len, reverse=True):
        if form and form in text:
            text = text.replace(form, MASK)
    text = _AUTH_VALUE.sub(lambda m: f"{m.group(1)}{MASK}", text)
    text = _BASIC.sub(_basic, text)
    text = _BEARER.sub(_bearer, text)
    return _FIELDS.sub(lambda m: f"{m.group(1)}{MASK}", text)


_active: list["Redactor"] = []
_active_lock = threading.Lock()


class Redactor:
    """The secrets of one connection or run (the client secret, tokens obtained on the way); thread-safe."""

    def __init__(self, secret: str = "", client_id: str = ""):
        self._lock = threading.Lock()
        self._forms: set[str] = set()
        self._included: list[Redactor] = []
        self.add(secret, client_id)

    def include(self, other: "Redactor") -> None:
        """Mask whatever `other` knows, now and later (a client's redactor gains tokens as it runs)."""
        with self._lock:
            self._included.append(other)

    def add(self, secret: str, client_id: str = "") -> None:
        """Mask this value too (a token the SIS issued, the secret of the settings in use)."""
        forms = encoded_forms(secret, client_id)
        with self._lock:
            self._forms |= forms

    @property
    def forms(self) -> frozenset[str]:
        with self._lock:
            own, included = set(self._forms), list(self._included)
        return frozenset(own.union(*(other.forms for other in included)))

    def __call__(self, text: str) -> str:
        return redact(text, self.forms)

    def scrub_bytes(self, body: bytes) -> bytes:
        """An SIS body with the known secret forms masked before anything reads or cuts it short."""
        for form in sorted(self.forms, key=len, reverse=True):
            raw = form.encode("utf-8")
            if raw in body:
                body = body.replace(raw, MASK.encode("utf-8"))
        return body

    @contextmanager
    def active(self):
        """While inside, every log record of this process is masked with these secrets too."""
        with _active_lock:
            _active.append(self)
        try:
            yield self
        finally:
            with _active_lock:
                _active.remove(self)


def redact_active(text: str) -> str:
    """`redact` with the secrets of every active Redactor (runs and tests in progress in this process)."""
    with _active_lock:
        forms = set().union(*(r.forms for r in _active)) if _active else set()
    return redact(text, forms)


_formatter = logging.Formatter()
_installed = threading.Event()


def install_log_redaction() -> None:
    """Mask every log record when it is made, whichever logger or handler (rq's included) writes it.

    A record factory, not a handler filter: handlers added later (rq worker's, pytest's caplog) and
    child loggers would each need their own filter, and one missed handler would leak.
    """
    if _installed.is_set():
        return
    _installed.set()
    previous = logging.getLogRecordFactory()

    def factory(*args, **kwargs):
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string is logging's to report, at emit time
            return record
        cleaned = redact_active(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact_active(_formatter.formatException(record.exc_info))
        return record

    logging.setLogRecordFactory(factory)
