"""Factories shared by connector tests (a unique module name, so it never clashes with other conftests)."""
from connectors.settings import ConnectionSettings

BASE = "https://sis.example.org/oneroster"
DATA = f"{BASE}/ims/oneroster/v1p1"
TOKEN = f"{BASE}/token"
# The sandbox as each vendor, and its vendor and sign-in variants: the client must read each the same way.
EACH_VENDOR = {vendor: dict(vendor=vendor) for vendor in ("aeries", "infinite-campus", "oneroster")}
CONFIGS = {
    "aeries": dict(vendor="aeries"),
    "infinite-campus": dict(vendor="infinite-campus"),
    "oneroster-oauth2": dict(vendor="oneroster"),
    "oneroster-oauth1": dict(vendor="oneroster", auth="oauth1"),
    "oneroster-oauth1-query": dict(vendor="oneroster", auth="oauth1", signature_type="query"),
}


def make_settings(**overrides) -> ConnectionSettings:
    values = dict(vendor="oneroster", base_url=BASE, token_urls=(TOKEN,), client_id="cid",
                  client_secret="top-secret-value", school_id="sch1", auth_mode="oauth2")
    values.update(overrides)
    return ConnectionSettings(**values)


def user(sid: str, role: str = "student", **extra) -> dict:
    record = {"sourcedId": sid, "status": "active", "role": role, "givenName": "Zoë", "familyName": "O'Brien",
              "orgs": [{"sourcedId": "sch1", "type": "org"}], "enabledUser": "true"}
    record.update(extra)
    return record


class Sleeps(list):
    """Injected sleep that records delays instead of waiting."""

    def __call__(self, seconds):
        self.append(seconds)
