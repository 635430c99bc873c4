"""The validated connection settings the client runs on (built by a vendor profile)."""
from dataclasses import dataclass, field

DATA_PATH = "ims/oneroster/v1p1"


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
    scope: str = ""
    oauth1_signature_type: str = "header"

    @property
    def data_url(self) -> str:
        """Root of the OneRoster 1.1 collections, e.g. {base}/ims/oneroster/v1p1."""
        return f"{self.base_url.rstrip('/')}/{DATA_PATH}"
