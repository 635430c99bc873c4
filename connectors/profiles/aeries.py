"""Aeries: OneRoster 1.1 over OAuth 2.0, base URL is the Aeries web app's sub-directory."""
from ..errors import InvalidSettings
from ..settings import ConnectionSettings
from .base import FieldError, FieldSpec, Profile, clean, cut_path, origin, parse_url

EXAMPLE = "https://demo.aeries.net/aeries/"
PERMISSIONS = {
    "students": "Student Data",
    "schools": "Schools",
    "orgs": "Schools",
    "terms": "Terms",
    "academicSessions": "Terms",
    "teachers": "Teacher Data",
    "courses": "Course Data",
    "classes": "Classes and Master Schedule",
    "enrollments": "Master Schedule and Classes",
    "users": "Student Data, Teacher Data and Staff Data",
}
# Pasted URLs often carry an API or token path; the base is what comes before it.
_TAILS = ("/ims/oneroster", "/v2/oauth/token", "/token")


def normalise_url(value: str, *, allow_loopback_http: bool) -> str:
    """Base URL without trailing slash, e.g. https://demo.aeries.net/aeries."""
    parts = parse_url(value, "Aeries URL", allow_loopback_http=allow_loopback_http, example=EXAMPLE)
    path = parts.path
    for tail in _TAILS:
        before = cut_path(path, tail)
        if before is not None and (tail != "/token" or path.lower().endswith("/token")):
            path = before
            break
    segments = [s for s in path.split("/") if s]
    if segments and "." in segments[-1] and not path.endswith("/"):
        segments.pop()  # a pasted page such as LoginParent.aspx: keep everything before the last /
    if not segments:
        raise FieldError("The Aeries URL must include the sub-directory of your Aeries site, such as "
                         f"/aeries/ in {EXAMPLE} — copy the address of the Aeries login page.")
    return origin(parts) + "/" + "/".join(segments)


def normalise_school_id(value: str) -> str:
    """Aeries school codes are digits (district is 0); leading zeros are dropped."""
    if not value.isdigit() or not value.isascii():
        raise FieldError("The School ID must be the Aeries school code, digits only (for example 5 or 994).")
    return str(int(value))


class AeriesProfile(Profile):
    key = "aeries"
    label = "Aeries"
    fields = [
        FieldSpec("url", "Aeries URL", "The address of your Aeries site including its sub-directory; "
                  "pasting the login page address is fine.", placeholder=EXAMPLE),
        FieldSpec("client_id", "Consumer ID", "From Aeries' API Security page (Security → API Security)."),
        FieldSpec("client_secret", "Consumer Secret Key", "From the same API Security entry.", secret=True),
        FieldSpec("school_id", "School ID", "The Aeries school code, digits only.", placeholder="5"),
    ]
    credentials_hint = "Check the Consumer ID and Secret Key on Aeries' API Security page."
    school_id_hint = "Use the Aeries school code of this school (digits, e.g. 5 or 994)."
    global_areas = frozenset({"users", "schools", "courses", "classes", "terms"})
    # OneRoster 1.1 only: "Aeries SIS supports the OneRoster® 1.1 specification"
    # (support.aeries.com/support/solutions/folders/14000115099, OneRoster API Setup); no page mentions 1.2.
    versions = ("1.1",)

    def read_fields(self, values, *, allow_loopback_http=False):
        errors, out = {}, {}
        steps = {
            "url": lambda v: normalise_url(v, allow_loopback_http=allow_loopback_http),
            "client_id": str,
            "client_secret": str,
            "school_id": normalise_school_id,
        }
        for spec in self.fields:
            try:
                out[spec.name] = steps[spec.name](clean(values, spec.name, spec.label))
            except FieldError as exc:
                errors[spec.name] = str(exc)
        if errors:
            raise InvalidSettings(errors)
        base = out["url"]
        return ConnectionSettings(vendor=self.key, base_url=base,
                                  token_urls=(f"{base}/v2/oauth/token", f"{base}/token"),
                                  client_id=out["client_id"], client_secret=out["client_secret"],
                                  school_id=out["school_id"], auth_mode="oauth2", scope=self.default_scope)

    def saved_fields(self, settings):
        return super().saved_fields(settings) | {"url": settings.base_url + "/"}  # stored as the form shows it

    def area_label(self, area):
        return PERMISSIONS.get(area, area)

    def fix_for(self, area, *, app_name=""):
        return (f"Enable READ for {self.area_label(area)} on the Aeries API Security page, "
                "then do a full IIS reset.")
