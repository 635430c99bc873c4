"""The validated connection settings the client runs on (built by a vendor profile)."""
from dataclasses import dataclass, field

DATA_PATH = "ims/oneroster/v1p1"
# OAuth 2.0 scopes of OneRoster 1.1, spelled as in the IMS OneRoster 1.1 specification
# (https://www.imsglobal.org/oneroster-v11-final-specification) and as Aeries grants them in its token reply
# (https://support.aeries.com/support/solutions/articles/14000065677-oneroster-api-authentication-process:
# "Scopes MUST be included in the request ... a minimum of one"). roster-core.readonly covers the global
# collections (users, students, teachers, schools, ...); the school-scoped listings such as
# schools/{id}/students need roster.readonly. That split is the spec's scope table as other clients read it;
# the search tool did not return that table's text, so a server that disagrees is handled by the fallbacks
# (retry with the core scope alone, global listings when a school listing is refused).
CORE_SCOPE = "https://purl.imsglobal.org/spec/or/v1p1/scope/roster-core.readonly"
ROSTER_SCOPE = "https://purl.imsglobal.org/spec/or/v1p1/scope/roster.readonly"
DEFAULT_SCOPE = f"{CORE_SCOPE} {ROSTER_SCOPE}"


@dataclass(frozen=True)
class ConnectionSettings:
    """Everything needed to talk to one SIS; the secret is kept out of repr and logs."""

    vendor: str
    base_url: str
    token_urls: tuple[str, ...]
    client_id: str
    client_secret: str = field(repr=False)
    school_id: str
    auth_mode: str = "oauth2"
    app_name: str = ""
    scope: str = DEFAULT_SCOPE
    oauth1_signature_type: str = "header"
    credentials_expire_on: str = ""  # optional ISO date (a string, so settings stay JSON-safe); see connectors.expiry

    @property
    def data_url(self) -> str:
        """Root of the OneRoster 1.1 collections, e.g. {base}/ims/oneroster/v1p1."""
        return f"{self.base_url.rstrip('/')}/{DATA_PATH}"
