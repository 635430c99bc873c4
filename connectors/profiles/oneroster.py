"""Any other OneRoster provider (1.1 or 1.2): explicit base URL, token URL and OAuth 2.0 or 1.0a."""
from ..errors import InvalidSettings
from ..settings import CORE_SCOPE, ConnectionSettings
from .base import FieldError, FieldSpec, Profile, clean, cut_path, origin, parse_url

EXAMPLE = "https://sis.example.org/oneroster"
AUTH_MODES = (("oauth2", "OAuth 2.0 client credentials"), ("oauth1", "OAuth 1.0a (HMAC-SHA256)"))


def normalise_base_url(value: str, *, allow_loopback_http: bool, label: str = "Base URL",
                       example: str = EXAMPLE) -> str:
    """Base URL with any pasted /ims/oneroster/... tail and trailing slash removed."""
    parts = parse_url(value, label, allow_loopback_http=allow_loopback_http, example=example)
    path = cut_path(parts.path, "/ims/oneroster")
    path = parts.path if path is None else path
    return origin(parts) + path.rstrip("/")


def normalise_token_url(value: str, *, allow_loopback_http: bool, label: str = "Token URL") -> str:
    """Token URL as given (query kept: some servers need it), scheme and host checked."""
    parts = parse_url(value, label, allow_loopback_http=allow_loopback_http,
                      example=f"{EXAMPLE}/token")
    query = f"?{parts.query}" if parts.query else ""
    return origin(parts) + parts.path + query


def normalise_scope(value) -> str:
    """Space-separated scope names as one line ("" when blank: the profile's default applies)."""
    text = "" if value is None else str(value)
    if not text.strip():
        return ""
    text = clean({"scope": text}, "scope", "OAuth scopes")
    if any(c in text for c in "\"'\\<>"):
        raise FieldError("OAuth scopes may not contain quotes or angle brackets; paste the scope names "
                         "separated by spaces.")
    return " ".join(text.replace(",", " ").split())


def credential_fields(client_id: tuple[str, str], client_secret: tuple[str, str], school_help: str,
                      scope_help: str = "Leave blank for the OneRoster 1.1 read scopes.") -> list[FieldSpec]:
    """The Client ID, Secret, School ID and scope fields of a hosted OneRoster vendor ((label, help) pairs)."""
    return [FieldSpec("client_id", *client_id), FieldSpec("client_secret", *client_secret, secret=True),
            FieldSpec("school_id", "School ID", school_help),
            FieldSpec("scope", "OAuth scopes (optional)", scope_help, placeholder=CORE_SCOPE)]


class OneRosterProfile(Profile):
    key = "oneroster"
    label = "Other OneRoster provider (1.1 or 1.2)"
    versions = ("1.1", "1.2")
    versions_help = "The OneRoster version the provider serves at this URL (1.2 reads /ims/oneroster/rostering/v1p2)."
    auth_modes = AUTH_MODES  # the first is the default
    url_label = "Base URL"
    example = EXAMPLE
    fields = [
        FieldSpec("url", "Base URL", "The provider's OneRoster base URL (the part before "
                  "/ims/oneroster/v1p1 or /ims/oneroster/rostering/v1p2).", placeholder=EXAMPLE),
        FieldSpec("token_url", "Token URL", "The OAuth 2.0 token endpoint (not needed for OAuth 1.0a).",
                  placeholder=f"{EXAMPLE}/token"),
        FieldSpec("auth_mode", "Authentication", "How the provider expects requests to be signed.",
                  kind="select", choices=AUTH_MODES),
        FieldSpec("client_id", "Client ID", "The client (consumer) key the provider issued."),
        FieldSpec("client_secret", "Client Secret", "The client (consumer) secret.", secret=True),
        FieldSpec("school_id", "School ID", "The school's sourcedId in the provider."),
        FieldSpec("scope", "OAuth scopes (optional)", "Leave blank to ask for the chosen version's read scopes "
                  "(roster-core.readonly and roster.readonly). Fill in only if the provider names other scopes, "
                  "separated by spaces.", placeholder=CORE_SCOPE),
    ]

    def read_fields(self, values, *, allow_loopback_http=False):
        errors, out = {}, {}
        mode = str(values.get("auth_mode") or self.auth_modes[0][0]).strip().lower()
        if mode not in dict(self.auth_modes):
            errors["auth_mode"] = f"Choose {' or '.join(label for _, label in self.auth_modes)}."
        labels = {f.name: f.label for f in self.fields}
        steps = [("url", labels["url"], lambda v: self.normalise_url(v, allow_loopback_http)),
                 ("client_id", labels["client_id"], str), ("client_secret", labels["client_secret"], str),
                 ("school_id", labels["school_id"], str)]
        if mode == "oauth2":
            steps.append(("token_url", labels["token_url"], lambda v: normalise_token_url(
                v, allow_loopback_http=allow_loopback_http, label=labels["token_url"])))
        for name, label, step in steps:
            try:
                out[name] = step(clean(values, name, label))
            except FieldError as exc:
                errors[name] = str(exc)
        try:
            out["scope"] = normalise_scope(values.get("scope")) or self.default_scope
        except FieldError as exc:
            errors["scope"] = str(exc)
        if errors:
            raise InvalidSettings(errors)
        token_urls = (out["token_url"],) if mode == "oauth2" else ()
        return ConnectionSettings(vendor=self.key, base_url=out["url"], token_urls=token_urls,
                                  client_id=out["client_id"], client_secret=out["client_secret"],
                                  school_id=out["school_id"], auth_mode=mode, scope=out["scope"])

    def normalise_url(self, value: str, allow_loopback_http: bool) -> str:
        """The vendor's base URL rule (here: any https URL, a pasted /ims/oneroster tail cut off)."""
        return normalise_base_url(value, allow_loopback_http=allow_loopback_http, label=self.url_label,
                                  example=self.example)

    def prefill(self, values):
        """The default sign-in method preselected on a fresh form."""
        return values if values.get("auth_mode") else {**values, "auth_mode": self.auth_modes[0][0]}

    def saved_fields(self, settings):
        return super().saved_fields(settings) | {"token_url": settings.token_urls[0] if settings.token_urls else ""}

    def from_saved(self, row, secret):
        return super().from_saved(row, secret) | {"token_url": row.token_url, "auth_mode": row.auth_mode,
                                                  "scope": row.scope}
