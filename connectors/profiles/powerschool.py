"""PowerSchool SIS: the OneRoster plugin's Data Configuration gives an OAuth 2.0 Client ID and Secret."""
from .base import FieldSpec, cut_path, origin, parse_url
from .oneroster import OneRosterProfile, credential_fields

# https://support.classlink.com/hc/en-us/articles/360007232513-PowerSchool-API-Activation: the vendor's plugin
# XML is installed at System > System Settings > Plugin Management Configuration and enabled; its Data
# Configuration shows the OAuth Client ID and Client Secret; set Maximum Page Size to 1000.
# https://community.canvaslms.com/t5/PowerSchool-and-Canvas/How-do-I-install-the-Instructure-OneRoster-plugin-from-within/ta-p/575155:
# pagination limit 1000, record the Client ID and Secret, and the "PowerSchool URL".
# Not confirmed for the OneRoster plugin: the token URL. PowerSchool's REST API takes tokens at
# /oauth/access_token (seen only in a third-party API collection, api-evangelist/powerschool), so it is the
# placeholder, and the user types the token URL. OAuth 1.0a is not offered: no page mentions it for PowerSchool.
EXAMPLE = "https://district.powerschool.com"
AUTH_MODES = (("oauth2", "OAuth 2.0 client credentials"),)
PLUGINS = "System > System Settings > Plugin Management Configuration"


class PowerSchoolProfile(OneRosterProfile):
    key = "powerschool"
    label = "PowerSchool SIS"
    auth_modes = AUTH_MODES
    # OneRoster 1.1: the SIS plugins found are 1.1 (Instructure's inst-ps_oneroster_plugin_v1.1.xml, Canvas page
    # above). PowerSchool documents 1.2 endpoints only for eSchoolPlus 21.4, another product
    # (esp.powerschool-docs.com/espsis-sys-admin/latest/api-profiles), so 1.2 is not offered for PowerSchool SIS.
    versions = ("1.1",)
    url_label = "PowerSchool URL"
    example = EXAMPLE
    fields = [
        FieldSpec("url", "PowerSchool URL", "The address of your PowerSchool server; pasting an admin page "
                  "address is fine.", placeholder=EXAMPLE),
        FieldSpec("token_url", "Token URL", "The OAuth token URL of the OneRoster plugin. PowerSchool's pages "
                  "found so far do not confirm it for the plugin; usually the server followed by "
                  "/oauth/access_token — check with the plugin's provider.",
                  placeholder=f"{EXAMPLE}/oauth/access_token"),
    ] + credential_fields(("Client ID", f"From {PLUGINS}: the plugin's Data Configuration."),
                          ("Client Secret", "From the same Data Configuration page."),
                          "The school's sourcedId as the OneRoster plugin reports it.")
    help_text = (f"In PowerSchool, install and enable the OneRoster plugin at {PLUGINS}, set its Maximum Page "
                 "Size to 1000 and copy the Client ID and Secret from its Data Configuration. The token URL is "
                 "not confirmed by PowerSchool's pages found so far: type the one the plugin's provider gives.")
    credentials_hint = f"Check the Client ID and Secret in PowerSchool ({PLUGINS}, the plugin's Data Configuration)."
    renew_hint = (f"In PowerSchool, open {PLUGINS}, check the OneRoster plugin is enabled, copy the Client ID "
                  "and Secret from its Data Configuration, then save them here.")

    def normalise_url(self, value, allow_loopback_http):
        """The server address; a pasted admin page (/admin/...) or /ims/oneroster tail is cut off."""
        parts = parse_url(value, self.url_label, allow_loopback_http=allow_loopback_http, example=EXAMPLE)
        path = parts.path
        for tail in ("/admin/", "/ims/oneroster"):  # /admin/ is where PowerSchool's staff pages live
            before = cut_path(path + "/", tail)
            path = path if before is None else before
        return origin(parts) + path.rstrip("/")

    def fix_for(self, area, *, app_name=""):
        # A plugin's data access comes from its XML (ClassLink page above); the admin can only enable it.
        return (f"In PowerSchool, open {PLUGINS}, check the OneRoster plugin is enabled and that its data "
                f"access includes {area}; if not, ask the plugin's provider for a plugin that does.")
