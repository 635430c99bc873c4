"""Synergy (Edupoint): OneRoster API URL, Token Endpoint URL, Client ID and Secret; OAuth 2.0 recommended."""
from .base import FieldSpec
from .oneroster import OneRosterProfile, credential_fields

# https://ed.link/docs/providers/synergy/connecting: "generate a OneRoster Client ID, Client Secret, and an API
# URL"; the connection needs the OneRoster API URL, Token Endpoint URL, Client ID and Client Secret.
# https://ed.link/docs/providers/synergy/troubleshooting: OAuth 2.0 is recommended, OAuth 1.0 is deprecated,
# and the scopes granted matter. No page gives the URL shape, so any https URL is accepted.
EXAMPLE = "https://synergy.district.org/oneroster"
AUTH_MODES = (("oauth2", "OAuth 2.0 client credentials (recommended)"),
              ("oauth1", "OAuth 1.0a (HMAC-SHA256, deprecated by Synergy)"))


class SynergyProfile(OneRosterProfile):
    key = "synergy"
    label = "Synergy (Edupoint)"
    auth_modes = AUTH_MODES
    # OneRoster 1.1: the ed.link pages above do not name a version; no page found confirms 1.2 for Synergy.
    versions = ("1.1",)
    url_label = "OneRoster API URL"
    example = EXAMPLE
    fields = [
        FieldSpec("url", "OneRoster API URL", "The API URL Synergy generated with the OneRoster client; a pasted "
                  "/ims/oneroster/v1p1 tail is cut off.", placeholder=EXAMPLE),
        FieldSpec("token_url", "Token Endpoint URL", "The Token Endpoint URL from the same OneRoster client "
                  "(not needed for OAuth 1.0a).", placeholder=f"{EXAMPLE}/token"),
        FieldSpec("auth_mode", "Authentication", "OAuth 2.0 is Synergy's recommended method.",
                  kind="select", choices=AUTH_MODES),
    ] + credential_fields(("Client ID", "The OneRoster Client ID generated in Synergy."),
                          ("Client Secret", "The OneRoster Client Secret."),
                          "The school's sourcedId as Synergy's OneRoster API reports it.",
                          "Leave blank for the OneRoster 1.1 read scopes; fill in only the scopes the "
                          "Synergy client was granted.")
    help_text = ("In Synergy, generate a OneRoster Client ID, Client Secret and API URL; the Token Endpoint URL "
                 "comes with them. Use OAuth 2.0 (Synergy deprecates OAuth 1.0) and make sure the client has "
                 "the roster read scopes.")
    credentials_hint = "Check the OneRoster Client ID and Client Secret generated in Synergy."
    renew_hint = "Ask the Synergy administrator to generate a new OneRoster Client ID and Secret, then save them here."

    def fix_for(self, area, *, app_name=""):
        return (f"Ask the Synergy administrator to give this OneRoster client read access to {area} and the "
                "matching OAuth scopes; then test again.")
