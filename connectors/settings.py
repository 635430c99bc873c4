"""The validated connection settings the client runs on (built by a vendor profile)."""
from dataclasses import dataclass, field

VERSIONS = ("1.1", "1.2")
# Where each OneRoster version keeps its rostering collections under the provider's base URL.
# 1.2: the IMS OneRoster 1.2 Rostering REST binding
# (https://www.imsglobal.org/sites/default/files/spec/oneroster/v1p2/rostering-restbinding/OneRosterv1p2RosteringService_RESTBindv1p0.html)
# names the base /ims/oneroster/rostering/v1p2; Infinite Campus' 1.2 URL has the same tail
# (help.schoolday.com/knowledge/establish-a-connection-with-infinite-campus-api-1.2-data-source).
DATA_PATHS = {"1.1": "ims/oneroster/v1p1", "1.2": "ims/oneroster/rostering/v1p2"}
DATA_PATH = DATA_PATHS["1.1"]
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
# 1.2 spells its scopes with v1p2 (the 1.2 REST binding above; Visma's OneRoster 1.2 gateway asks for
# .../spec/or/v1p2/scope/roster-core.readonly, github.com/Visma-Flyt/FlytOASOneRosterAPI README). The core/roster
# split is assumed to be the same as in 1.1; the same fallbacks cover a server that disagrees.
CORE_SCOPE_V12 = "https://purl.imsglobal.org/spec/or/v1p2/scope/roster-core.readonly"
ROSTER_SCOPE_V12 = "https://purl.imsglobal.org/spec/or/v1p2/scope/roster.readonly"
DEFAULT_SCOPES = {"1.1": DEFAULT_SCOPE, "1.2": f"{CORE_SCOPE_V12} {ROSTER_SCOPE_V12}"}
CORE_SCOPES = {"1.1": CORE_SCOPE, "1.2": CORE_SCOPE_V12}
ROSTER_SCOPES = {"1.1": ROSTER_SCOPE, "1.2": ROSTER_SCOPE_V12}


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
    oneroster_version: str = "1.1"   # "1.1" or "1.2"

    @property
    def data_url(self) -> str:
        """Root of the rostering collections, e.g. {base}/ims/oneroster/v1p1 (1.2: .../rostering/v1p2)."""
        return f"{self.base_url.rstrip('/')}/{DATA_PATHS.get(self.oneroster_version, DATA_PATH)}"

    @property
    def core_scope(self) -> str:
        """The one scope the sync cannot do without (asked for alone when the SIS refuses more)."""
        return CORE_SCOPES.get(self.oneroster_version, CORE_SCOPE)

    @property
    def roster_scope(self) -> str:
        """The scope of the school-scoped listings (schools/{id}/students ...)."""
        return ROSTER_SCOPES.get(self.oneroster_version, ROSTER_SCOPE)
