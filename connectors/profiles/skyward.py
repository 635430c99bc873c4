"""Skyward (SMS 2.0): OneRoster API URL https://{dns}/api, key and secret of a Secured User."""
from .base import FieldError, FieldSpec, cut_path, origin, parse_url
from .oneroster import OneRosterProfile, credential_fields

# https://support.classlink.com/hc/en-us/articles/360007493713-Skyward-API-Activation: the API URL is
# https://{DNSNAME}/api, e.g. https://skyward.schoolDistrictName.org/api.
# https://help.otus.com/en/articles/4231146-skyward-api-configuration: Product Setup > Skyward Contact Access >
# Security > Secured User (add the vendor organization) > API > Generate a New Secret gives the Key and Secret;
# the URL is at Product Setup > Skyward Contact Access > District Setup > Configuration > API Configuration.
# Not confirmed by any page: the token URL path and whether Skyward also accepts OAuth 1.0a, so the user types
# the token URL and may choose either sign-in method. Qmlativ is a different product (Integration Access).
EXAMPLE = "https://skyward.district.org/api"
AUTH_MODES = (("oauth2", "OAuth 2.0 client credentials"), ("oauth1", "OAuth 1.0a (HMAC-SHA256)"))
SECURED_USER = "Product Setup > Skyward Contact Access > Security > Secured User"


class SkywardProfile(OneRosterProfile):
    key = "skyward"
    label = "Skyward"
    auth_modes = AUTH_MODES
    # OneRoster 1.1: no Skyward page found says whether its API serves 1.2 (use "Other" if Skyward says so).
    versions = ("1.1",)
    url_label = "OneRoster API URL"
    example = EXAMPLE
    fields = [
        FieldSpec("url", "OneRoster API URL", "From Product Setup > Skyward Contact Access > District Setup > "
                  "Configuration > API Configuration; it ends with /api.", placeholder=EXAMPLE),
        FieldSpec("token_url", "Token URL", "The OAuth 2.0 token URL Skyward gave you (not needed for OAuth 1.0a); "
                  "Skyward's public pages do not name it, so type it exactly as given."),
        FieldSpec("auth_mode", "Authentication", "How Skyward signs requests; ask Skyward if unsure.",
                  kind="select", choices=AUTH_MODES),
    ] + credential_fields(("Key", f"From {SECURED_USER}: the vendor's API button."),
                          ("Secret", "Shown after Generate a New Secret on the same screen."),
                          "The school's sourcedId as Skyward's OneRoster API reports it.")
    help_text = (f"In Skyward, open {SECURED_USER}, add this portal's vendor organization, press API and "
                 "Generate a New Secret for the Key and Secret. The OneRoster API URL is under Product Setup > "
                 "Skyward Contact Access > District Setup > Configuration > API Configuration. Skyward's public "
                 "pages do not name the token URL: type the one Skyward gives you.")
    credentials_hint = f"Check the Key and Secret in Skyward ({SECURED_USER}, API button)."
    renew_hint = f"In Skyward, open {SECURED_USER}, press API, Generate a New Secret, then save it here."

    def normalise_url(self, value, allow_loopback_http):
        """https://{dns}/api; a pasted longer address is cut back to its /api."""
        parts = parse_url(value, self.url_label, allow_loopback_http=allow_loopback_http, example=EXAMPLE)
        path = cut_path(parts.path.rstrip("/") + "/", "/api/")
        if path is None:
            raise FieldError(f"The OneRoster API URL must end with /api, such as {EXAMPLE}; copy it from "
                             "Product Setup > Skyward Contact Access > District Setup > Configuration > "
                             "API Configuration.")
        return origin(parts) + path + "/api"

    def fix_for(self, area, *, app_name=""):
        # Access is granted on the vendor's Secured User (help.otus.com page above); the name of the
        # per-area switch is not confirmed by a page.
        return f"In Skyward, open {SECURED_USER}, choose this vendor and allow access to {area}."
