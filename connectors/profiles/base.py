"""Shared pieces of vendor profiles: form field specs, value cleaning and URL checks."""
import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from ..settings import DEFAULT_SCOPE, ConnectionSettings

MAX_LENGTH = 2000
# Shorter fields: the portal stores these in columns of this size (an id of 400 digits is a paste mistake).
FIELD_LIMITS = {"client_id": 500, "school_id": 200, "app_name": 200, "scope": 1000}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
LOOPBACK_HOSTS = {"localhost"}
AREAS = ("schools", "terms", "students", "teachers", "users", "courses", "classes", "enrollments")


@dataclass(frozen=True)
class FieldSpec:
    """One form field of a vendor's connection form."""

    name: str
    label: str
    help: str
    secret: bool = False
    placeholder: str = ""
    kind: str = "text"
    choices: tuple[tuple[str, str], ...] = ()


class FieldError(ValueError):
    """A single field's problem; collected into InvalidSettings by the profile."""


def clean(values: dict, name: str, label: str) -> str:
    """Trimmed value; refuses blanks, control characters and absurd lengths."""
    value = values.get(name)
    value = "" if value is None else str(value).strip()
    if not value:
        raise FieldError(f"{label} is required.")
    limit = FIELD_LIMITS.get(name, MAX_LENGTH)
    if len(value) > limit:
        raise FieldError(f"{label} is too long ({len(value)} characters); paste only the value, "
                         f"at most {limit} characters.")
    if _CONTROL.search(value):
        raise FieldError(f"{label} contains a line break or control character; paste it again as one line.")
    return value


def is_loopback(host: str) -> bool:
    """True for localhost / 127.0.0.0/8 / ::1 (plain http is allowed there in dev mode only)."""
    if host.lower() in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_url(value: str, label: str, *, allow_loopback_http: bool, example: str) -> SplitResult:
    """Split a URL and refuse anything but https (plain http only for loopback in dev mode)."""
    if "://" not in value:
        raise FieldError(f"{label} must be a full web address starting with https://, such as {example}.")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise FieldError(f"{label} is not a valid web address; copy it again, such as {example}.") from None
    if " " in value or not parts.hostname:
        raise FieldError(f"{label} is not a valid web address; copy it again, such as {example}.")
    scheme = parts.scheme.lower()
    if scheme == "http" and allow_loopback_http and is_loopback(parts.hostname):
        return parts
    if scheme != "https":
        raise FieldError(f"{label} must start with https:// (the SIS must be reached over a secure "
                         f"connection), such as {example}.")
    return parts


def origin(parts: SplitResult) -> str:
    """scheme://host[:port] of a split URL, lower-cased scheme and host."""
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme.lower()}://{host}{port}"


def cut_path(path: str, marker: str) -> str | None:
    """The part of `path` before `marker` (case-insensitive), or None when absent."""
    index = path.lower().find(marker.lower())
    return None if index < 0 else path[:index]


class Profile:
    """A vendor's connection form and the rules that turn it into ConnectionSettings."""

    key = ""
    label = ""
    fields: list[FieldSpec] = []
    help_text = ""  # where the district finds the form's values, shown above the fields ("" = generic text)
    credentials_hint = "Check the Client ID and Secret with your SIS vendor."
    school_id_hint = "Use this school's sourcedId exactly as the SIS reports it."
    renew_hint = "Ask the district's SIS administrator for a new Client ID and Secret, then save them here."
    global_areas: frozenset[str] = frozenset({"users", "schools", "courses"})
    default_scope = DEFAULT_SCOPE  # OAuth 2.0 scopes asked for; see connectors.settings

    def normalise(self, values: dict[str, str], *, allow_loopback_http: bool = False) -> ConnectionSettings:
        """Validate form values into settings, or raise InvalidSettings with per-field messages."""
        raise NotImplementedError

    def prefill(self, values: dict[str, str]) -> dict[str, str]:
        """Form values completed from what was typed so far (e.g. a field read out of a pasted URL)."""
        return values

    def saved_fields(self, settings: ConnectionSettings) -> dict[str, str]:
        """What a portal stores for these settings, by column name (the secret is stored apart, encrypted)."""
        return {"url": settings.base_url, "token_url": "", "auth_mode": settings.auth_mode,
                "client_id": settings.client_id, "sis_school_id": settings.school_id, "app_name": settings.app_name,
                "scope": settings.scope if settings.scope != self.default_scope else ""}  # "" keeps the default

    def from_saved(self, row, secret: str) -> dict[str, str]:
        """The form values of a stored connection (`row` has the attributes saved_fields names), secret given."""
        return {"url": row.url, "client_id": row.client_id, "client_secret": secret, "school_id": row.sis_school_id}

    def area_label(self, area: str) -> str:
        """What this vendor calls an area in its permission screens."""
        return area

    def fix_for(self, area: str, *, app_name: str = "") -> str:
        """What district IT should do when read access to `area` is denied."""
        return f"Ask your SIS vendor to grant this client read access to {area}."

    def area_path(self, area: str, school_id: str) -> str:
        """The collection the connection test reads to prove access to `area`."""
        if area in self.global_areas:
            return area
        return f"schools/{school_id}/{area}"
