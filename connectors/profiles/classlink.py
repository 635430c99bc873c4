"""ClassLink Roster Server: OneRoster 1.1, OAuth 1.0a (HMAC-SHA256) by default, OAuth 2.0 offered."""
from .oneroster import OneRosterProfile, credential_fields
from .base import FieldSpec

# https://developer.classlink.com/reference/accessing-data: the district's Roster Server is reached directly
# with "server url, client secret and id" from the developer console's OneRoster module; IMS OneRoster 1.1
# uses OAuth 1.0a. The same page describes OAuth 2.0 bearer tokens through oneroster-proxy.classlink.io; where
# that token comes from is not described there, so in OAuth 2.0 mode the user types the token URL.
# https://developer.classlink.com/reference/obtaining-list-of-districts-and-servers lists each server's
# endpoint_url and client_id. The example host below is illustrative: no page gives a Roster Server host pattern.
EXAMPLE = "https://district.rosterserver.example.org"
AUTH_MODES = (("oauth1", "OAuth 1.0a (HMAC-SHA256)"), ("oauth2", "OAuth 2.0 client credentials"))


class ClassLinkProfile(OneRosterProfile):
    key = "classlink"
    label = "ClassLink Roster Server"
    auth_modes = AUTH_MODES
    # OneRoster 1.1: ClassLink's own pages found describe 1.1 (developer.classlink.com/reference/accessing-data).
    # Only a third-party route list (mcp.waymark.network, unverified) mentions /ims/oneroster/rostering/v1p2
    # for ClassLink, which is not enough to offer it; "Other" reads 1.2 if ClassLink confirms it.
    versions = ("1.1",)
    url_label = "Roster Server URL"
    example = EXAMPLE
    fields = [
        FieldSpec("url", "Roster Server URL", "The server URL of the district's Roster Server (ClassLink developer "
                  "console, OneRoster module); a pasted /ims/oneroster/v1p1 tail is cut off.", placeholder=EXAMPLE),
        FieldSpec("auth_mode", "Authentication", "Roster Server signs OneRoster 1.1 requests with OAuth 1.0a; "
                  "choose OAuth 2.0 only if ClassLink gave you a token URL.", kind="select", choices=AUTH_MODES),
        FieldSpec("token_url", "Token URL", "Only for OAuth 2.0: the token URL ClassLink gave "
                  "you. ClassLink's public pages do not name one, so type it exactly as given."),
    ] + credential_fields(("Client ID (Key)", "The Key of this application in Roster Server Applications."),
                          ("Client Secret", "The Secret shown beside the Key."),
                          "The school's sourcedId as Roster Server reports it.",
                          "OAuth 2.0 only. Leave blank for the OneRoster 1.1 read scopes.")
    help_text = ("In the ClassLink developer console's OneRoster module (or Roster Server Applications), copy the "
                 "server URL, Key and Secret of this application. Roster Server signs requests with OAuth 1.0a; "
                 "ClassLink's public pages name no token URL, so type one only if ClassLink gave it to you.")
    credentials_hint = ("Check the Key and Secret in ClassLink Roster Server (Roster Server Applications) and "
                        "that Authentication matches (OAuth 1.0a unless ClassLink said otherwise).")
    school_id_hint = "Use the school's sourcedId exactly as Roster Server reports it (see the list below)."
    renew_hint = "In ClassLink Roster Server, open this application, generate a new Key and Secret, then save them here."

    def fix_for(self, area, *, app_name=""):
        # Roster Server shares data per application; the menu names are from the Xello help page the lead
        # found (Roster Server Applications -> Key / Secret); the exact sharing screen is not confirmed.
        return (f"In ClassLink Roster Server, open Roster Server Applications, choose this application and "
                f"share {area} with it; then test again.")
