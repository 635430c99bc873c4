"""Infinite Campus: OAuth 2.0; 1.1 base URL ends with the app name after /api/oneroster/v1p1, 1.2 has none."""
import re
from urllib.parse import parse_qsl, quote, urlsplit

from ..errors import InvalidSettings
from ..settings import ConnectionSettings
from .base import FieldError, FieldSpec, Profile, clean, cut_path, origin, parse_url

EXAMPLE = "https://campus.example.org/campus/api/oneroster/v1p1/minga"
API_MARKER = "/api/oneroster/v1p1"
# 1.2: https://<domain>/campus/api/ims/oneroster/rostering/v1p2, the App Name only in the Token URL's appName=
# (help.schoolday.com/knowledge/establish-a-connection-with-infinite-campus-api-1.2-data-source; "If you are using
# OneRoster v1.2, you'll also need to provide the appName, which is included in the Token URL",
# help.eduready360.com/en/integrations/infinite-campus-sis-integration-guide).
V12_MARKER = "/api/ims/oneroster"
TOKEN_MARKER = "/oauth2/token"
_GUID = re.compile(r"^\{?([0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})\}?$")
_APP = re.compile(r"^[A-Za-z0-9_.~-]+$")


def _app_from_query(query: str) -> str:
    for key, value in parse_qsl(query):
        if key.lower() == "appname":
            return value.strip()
    return ""


def app_name_from_url(url: str) -> str:
    """The App Name in a pasted Campus URL or Token URL ("" when it has none)."""
    try:
        parts = urlsplit((url or "").strip())
    except ValueError:
        return ""
    before = cut_path(parts.path, API_MARKER)
    if before is not None:
        rest = parts.path[len(before) + len(API_MARKER):]
        segments = [s for s in rest.split("/") if s]
        if segments:
            return segments[0]
    return _app_from_query(parts.query)


def _campus_path_and_app(value: str, app_field: str, allow_loopback_http: bool) -> tuple[str, str, str]:
    """(origin, campus path, app name from the URL) for a data URL or a token URL."""
    parts = parse_url(value, "URL", allow_loopback_http=allow_loopback_http, example=EXAMPLE)
    for marker in (API_MARKER, V12_MARKER, TOKEN_MARKER):
        campus_path = cut_path(parts.path, marker)
        if campus_path is not None:
            return origin(parts), campus_path.rstrip("/"), app_name_from_url(value)
    raise FieldError(f"The URL should contain /api/oneroster/v1p1/ followed by the App Name, such as "
                     f"{EXAMPLE}, or for OneRoster 1.2 end with /api/ims/oneroster/rostering/v1p2. Copy it from "
                     "the OneRoster Provisioning page in Campus.")


def normalise_guid(value: str) -> str:
    """School ids in Campus are GUIDs; compare and store them upper-case."""
    match = _GUID.match(value)
    if not match:
        raise FieldError("The School ID must be the school's GUID from Campus, such as "
                         "CE8DF1FC-3242-4716-A5F5-5A957F86DC36.")
    return match.group(1).upper()


class InfiniteCampusProfile(Profile):
    key = "infinite-campus"
    label = "Infinite Campus"
    fields = [
        FieldSpec("url", "URL", "The OneRoster URL from Campus, ending with the App Name; a longer "
                  "URL or the Token URL is cut back automatically.", placeholder=EXAMPLE),
        FieldSpec("client_id", "Client ID", "The Client ID (Consumer Key) from OneRoster Provisioning."),
        FieldSpec("client_secret", "Client Secret", "The Client Secret from OneRoster Provisioning.",
                  secret=True),
        FieldSpec("app_name", "App Name", "The name after v1p1/ in the URL (or appName= in the "
                  "Token URL); filled in from the URL. OneRoster 1.2 URLs have none: copy appName= from the Token "
                  "URL.", placeholder="minga"),
        FieldSpec("school_id", "School ID", "The school's GUID in Campus.",
                  placeholder="CE8DF1FC-3242-4716-A5F5-5A957F86DC36"),
    ]
    credentials_hint = ("Check the Client ID and Client Secret in Campus "
                        "(System Administration > Learning Interoperability > OneRoster Provisioning).")
    school_id_hint = "Use the school's GUID from Campus, such as CE8DF1FC-3242-4716-A5F5-5A957F86DC36."
    # "Campus currently supports the 1.1 and 1.2 versions" (kb.infinitecampus.com/help/oneroster-12-data-models);
    # whether a district's vendor record uses 1.2 is chosen per vendor in Campus ("Generate New OneRoster 1.1
    # Credentials or Generate New OneRoster 1.2 Credentials", help.eduready360.com page above).
    versions = ("1.1", "1.2")
    versions_help = ("The version of the credentials Campus generated for this portal (OneRoster 1.1 or 1.2 "
                     "Credentials). Moving to 1.2 gives everyone new ids in Campus; the sync re-keys them.")
    # "Modify the Token Expiration Date if desired. Do not exceed 13 months from the current date."
    # (help.eduready360.com/en/integrations/infinite-campus-sis-integration-guide; a vendor's page, not Campus'.)
    credential_months = 13
    credential_place = "Campus"
    expiry_help = ("Optional: the Token Expiration Date of this connection in OneRoster Provisioning (at most 13 "
                   "months ahead); the page and the report warn from 30 days before.")
    renew_hint = ("In Campus, open OneRoster Provisioning (System Administration > Learning Interoperability > "
                  "OneRoster Provisioning), set a later Token Expiration Date on this connection or create new "
                  "credentials, then save them here.")

    def read_fields(self, values, *, allow_loopback_http=False):
        errors, out = {}, {}
        url_app = ""
        try:
            raw_url = clean(values, "url", "URL")
            out["origin"], out["campus"], url_app = _campus_path_and_app(
                raw_url, values.get("app_name") or "", allow_loopback_http)
        except FieldError as exc:
            errors["url"] = str(exc)
        raw_app = str(values.get("app_name") or "").strip()
        if raw_app and "://" in raw_app:
            raw_app = app_name_from_url(raw_app)
        try:
            app = clean({"app_name": raw_app or url_app}, "app_name", "App Name")
            if not _APP.match(app):
                raise FieldError("The App Name may contain only letters, digits, '-', '_' and '.'; "
                                 "copy the part after v1p1/ in the URL.")
            if url_app and raw_app and url_app.lower() != raw_app.lower():
                raise FieldError(f"The App Name '{raw_app}' differs from the one in the URL "
                                 f"('{url_app}'); use the same name as the URL.")
            out["app_name"] = app
        except FieldError as exc:
            errors["app_name"] = str(exc)
        for name, label, step in (("client_id", "Client ID", str), ("client_secret", "Client Secret", str),
                                  ("school_id", "School ID", normalise_guid)):
            try:
                out[name] = step(clean(values, name, label))
            except FieldError as exc:
                errors[name] = str(exc)
        if errors:
            raise InvalidSettings(errors)
        app = out["app_name"]
        base = f"{out['origin']}{out['campus']}{API_MARKER}/{app}"
        if values.get("oneroster_version") == "1.2":
            base = f"{out['origin']}{out['campus']}/api"  # + /ims/oneroster/rostering/v1p2 (settings.data_url)
        token = f"{out['origin']}{out['campus']}{TOKEN_MARKER}?appName={quote(app, safe='')}"
        return ConnectionSettings(vendor=self.key, base_url=base, token_urls=(token,),
                                  client_id=out["client_id"], client_secret=out["client_secret"],
                                  school_id=out["school_id"], auth_mode="oauth2", app_name=app, scope=self.default_scope)

    def prefill(self, values):
        """The App Name from a pasted URL (the URL wins over a stale name)."""
        app = app_name_from_url(values.get("url", ""))
        return {**values, "app_name": app} if app else values

    def from_saved(self, row, secret):
        return super().from_saved(row, secret) | {"app_name": row.app_name}

    def saved_fields(self, settings):
        # A 1.2 base (.../campus/api) holds no marker the URL rule knows, so the URL Campus shows is stored.
        url = settings.data_url if settings.oneroster_version == "1.2" else settings.base_url
        return super().saved_fields(settings) | {"url": url}

    def fix_for(self, area, *, app_name=""):
        app = f"'{app_name}'" if app_name else "used for this connection"
        return ("In Campus, open OneRoster Provisioning (System Administration > Learning "
                f"Interoperability > OneRoster Provisioning) and give the application {app} "
                f"access to {area}.")
