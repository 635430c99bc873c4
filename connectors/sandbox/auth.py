"""Sandbox credentials: OAuth 2.0 tokens (with expiry faults), Aeries cookies, OAuth 1.0a checks."""
import base64
import secrets
import threading
import time
from types import SimpleNamespace

from oauthlib.oauth1.rfc5849 import signature

TOKEN_LIFETIME = 3600


class Credentials:
    """Issues and checks tokens for one client id/secret."""

    def __init__(self, client_id: str, client_secret: str):
        self.client_id = client_id
        self.client_secret = client_secret
        self.lock = threading.Lock()
        self.tokens: dict[str, dict] = {}
        self.cookies: set[str] = set()
        self.nonces: set[str] = set()
        self.issued = 0

    def basic_ok(self, header: str) -> bool:
        if not header.startswith("Basic "):
            return False
        try:
            decoded = base64.b64decode(header[6:]).decode()
        except (ValueError, UnicodeDecodeError):
            return False
        client_id, _, secret = decoded.partition(":")
        return secrets.compare_digest(client_id, self.client_id) and secrets.compare_digest(secret,
                                                                                         self.client_secret)

    def issue(self, scope: str = "") -> tuple[str, str]:
        """(access token, affinity cookie value); the token remembers the scopes it was granted."""
        token, cookie = secrets.token_urlsafe(24), secrets.token_hex(8)
        with self.lock:
            self.tokens[token] = {"expires": time.monotonic() + TOKEN_LIFETIME, "uses": 0, "scope": scope.split()}
            self.cookies.add(cookie)
            self.issued += 1
        return token, cookie

    def bearer_ok(self, header: str, expiry_after: int) -> bool:
        """Valid, unexpired token; `expiry_after` > 0 makes it die after that many uses."""
        token = header[7:] if header.startswith("Bearer ") else ""
        with self.lock:
            entry = self.tokens.get(token)
            if not entry or entry["expires"] < time.monotonic():
                return False
            entry["uses"] += 1
            return not (expiry_after and entry["uses"] > expiry_after)

    def scopes_of(self, header: str) -> list[str]:
        """The scopes granted to a bearer token ([] when unknown)."""
        token = header[7:] if header.startswith("Bearer ") else ""
        with self.lock:
            return list(self.tokens.get(token, {}).get("scope", []))

    def oauth1_ok(self, method: str, uri: str, query: str, auth_header: str) -> bool:
        """Recompute the HMAC-SHA256 signature over every query and oauth parameter."""
        headers = {"Authorization": auth_header} if auth_header.startswith("OAuth ") else {}
        params = signature.collect_parameters(uri_query=query, headers=headers, exclude_oauth_signature=False)
        given = dict(params)
        if given.get("oauth_consumer_key") != self.client_id or given.get("oauth_signature_method") != "HMAC-SHA256":
            return False
        try:
            if abs(int(given.get("oauth_timestamp", "0")) - time.time()) > 600:
                return False
        except ValueError:
            return False
        nonce = given.get("oauth_nonce", "")
        with self.lock:
            if not nonce or nonce in self.nonces:
                return False
            self.nonces.add(nonce)
        unsigned = [(k, v) for k, v in params if k != "oauth_signature"]
        base = signature.signature_base_string(method, signature.base_string_uri(uri),
                                               signature.normalize_parameters(unsigned))
        expected = signature.sign_hmac_sha256_with_client(base, SimpleNamespace(
            client_secret=self.client_secret, resource_owner_secret=""))
        return secrets.compare_digest(expected, given.get("oauth_signature", ""))
