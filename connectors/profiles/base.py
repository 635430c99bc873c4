"""Shared pieces of vendor profiles: form field specs, value cleaning and URL checks."""
import dataclasses
import ipaddress
import re
from dataclasses import dataclass
from datetime import date
from urllib.parse import SplitResult, urlsplit

from ..errors import InvalidSettings
from ..expiry import today
from ..settings import DEFAULT_SCOPE, DEFAULT_SCOPES, ConnectionSettings

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


VERSION_LABELS = {"1.1": "OneRoster 1.1", "1.2": "OneRoster 1.2"}


def months_after(day: date, months: int) -> date:
    """The same day `months` later (the month's last day when it is shorter)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    last = (date(year + month // 12, month % 12 + 1, 1) - date.resolution).day
    return date(year, month, min(day.day, last))


def read_expiry(value, max_months: int | None, where: str) -> str:
    """An optional "Credentials expire on" date as YYYY-MM-DD ("" when blank); at most `max_months` ahead."""
    text = "" if value is None else str(value).strip()
    if not text:
        return ""
    try:
        expires = date.fromisoformat(text)
    except ValueError:
        raise FieldError("Give the date the credentials expire as YYYY-MM-DD (for example 2027-06-30), "
                         "or leave it blank.") from None
    if max_months is not None and expires > months_after(today(), max_months):
        raise FieldError(f"{where} lets credentials last at most {max_months} months, so {expires.isoformat()} "
                         "cannot be right; copy the Token Expiration Date again.")
    return expires.isoformat()


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
    versions: tuple[str, ...] = ("1.1",)  # OneRoster versions the vendor's pages confirm it serves, default first
    versions_help = "Only OneRoster 1.1 is confirmed for this SIS."
    credential_months: int | None = None  # the longest the vendor lets credentials last, when a page says so
    credential_place = "the SIS"  # where the district sets the credentials' expiry date (in error messages)
    expiry_help = "Optional: when the SIS credentials stop working; the page warns from 30 days before."

    @property
    def form_fields(self) -> list[FieldSpec]:
        """The vendor's own fields, then the OneRoster version (when there is a choice) and the expiry date."""
        extra = []
        if len(self.versions) > 1:
            extra.append(FieldSpec("oneroster_version", "OneRoster version", self.versions_help, kind="select",
                                   choices=tuple((v, VERSION_LABELS[v]) for v in self.versions)))
        extra.append(FieldSpec("credentials_expire_on", "Credentials expire on (optional)", self.expiry_help,
                               placeholder="2027-06-30", kind="date"))  # shown as "For example: …"
        return self.fields + extra

    def normalise(self, values: dict[str, str], *, allow_loopback_http: bool = False) -> ConnectionSettings:
        """Validate form values into settings, or raise InvalidSettings with per-field messages."""
        errors = {}
        version = str(values.get("oneroster_version") or self.versions[0]).strip()
        if version not in self.versions:
            offered = " or ".join(VERSION_LABELS.get(v, v) for v in self.versions)
            errors["oneroster_version"] = (f"{self.label} offers {offered} here; choose "
                                           f"{'it' if len(self.versions) == 1 else 'one of them'}.")
            version = self.versions[0]
        try:
            expires = read_expiry(values.get("credentials_expire_on"), self.credential_months, self.credential_place)
        except FieldError as exc:
            errors["credentials_expire_on"], expires = str(exc), ""
        try:
            settings = self.read_fields({**values, "oneroster_version": version},
                                        allow_loopback_http=allow_loopback_http)
        except InvalidSettings as exc:
            raise InvalidSettings({**exc.errors, **errors}) from None
        if errors:
            raise InvalidSettings(errors)
        scope = settings.scope
        if version != "1.1" and scope == DEFAULT_SCOPE:  # the version's own read scopes unless others were typed
            scope = DEFAULT_SCOPES[version]
        return dataclasses.replace(settings, oneroster_version=version, scope=scope, credentials_expire_on=expires)

    def read_fields(self, values: dict[str, str], *, allow_loopback_http: bool = False) -> ConnectionSettings:
        """The vendor's own fields into settings (values["oneroster_version"] is already checked)."""
        raise NotImplementedError

    def prefill(self, values: dict[str, str]) -> dict[str, str]:
        """Form values completed from what was typed so far (e.g. a field read out of a pasted URL)."""
        return values

    def saved_fields(self, settings: ConnectionSettings) -> dict[str, str]:
        """What a portal stores for these settings, by column name (the secret is stored apart, encrypted)."""
        return {"url": settings.base_url, "token_url": "", "auth_mode": settings.auth_mode,
                "client_id": settings.client_id, "sis_school_id": settings.school_id, "app_name": settings.app_name,
                "scope": settings.scope if settings.scope not in (self.default_scope, *DEFAULT_SCOPES.values()) else "",
                "oneroster_version": settings.oneroster_version,
                "credentials_expire_on": date.fromisoformat(settings.credentials_expire_on)
                if settings.credentials_expire_on else None}  # scope "" keeps the default

    def from_saved(self, row, secret: str) -> dict[str, str]:
        """The form values of a stored connection (`row` has the attributes saved_fields names), secret given."""
        expires = getattr(row, "credentials_expire_on", None)
        return {"url": row.url, "client_id": row.client_id, "client_secret": secret, "school_id": row.sis_school_id,
                "oneroster_version": getattr(row, "oneroster_version", None) or self.versions[0],
                "credentials_expire_on": expires.isoformat() if expires else ""}

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
