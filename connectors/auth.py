"""OAuth 2.0 client-credentials tokens (cached, refreshed early) and OAuth 1.0a request signing."""
import math
import time

from oauthlib.oauth1 import SIGNATURE_HMAC_SHA256, SIGNATURE_TYPE_AUTH_HEADER, SIGNATURE_TYPE_QUERY
from oauthlib.oauth2 import BackendApplicationClient
from requests.auth import HTTPBasicAuth
from requests_oauthlib import OAuth1

from .errors import AuthenticationFailed, BadResponse, NotFound, ScopeRefused
from .imsx import describe_body, load_json, looks_like_html
from .settings import CORE_SCOPE, ConnectionSettings
from .transport import Transport

REFRESH_MARGIN = 60.0
# A positive expires_in below this is kept this long anyway: a SIS saying "1" had a token fetched before every page.
MIN_LIFETIME = 30.0
# RFC 6749 5.2 error codes that mean "not these scopes / not this client for this", not "wrong secret".
SCOPE_ERRORS = {"invalid_scope", "unauthorized_client", "insufficient_scope"}
# RFC 6749 5.2 (https://www.rfc-editor.org/rfc/rfc6749#section-5.2) codes that say the token URL or the request is
# wrong, not the secret: unsupported_grant_type "is not supported by the authorization server", invalid_request
# "is missing a required parameter ... or is otherwise malformed". What each means for the person setting up.
# Codes that say the SIS is having trouble, not the client (RFC 6749 4.1.2.1 defines them for the authorization
# endpoint; some token endpoints send them too): the credentials message sent admins to change working secrets.
UNAVAILABLE_ERRORS = {"temporarily_unavailable", "server_error"}
URL_ERRORS = {
    "unsupported_grant_type": "does not issue tokens for the client-credentials grant that OneRoster uses",
    "invalid_request": "refused the token request as malformed",
}


def oauth1_signer(settings: ConnectionSettings) -> OAuth1:
    """HMAC-SHA256 signer; oauthlib signs every query parameter of each request."""
    kind = SIGNATURE_TYPE_QUERY if settings.oauth1_signature_type == "query" else SIGNATURE_TYPE_AUTH_HEADER
    return OAuth1(settings.client_id, client_secret=settings.client_secret,
                  signature_method=SIGNATURE_HMAC_SHA256, signature_type=kind)


class TokenSource:
    """Client-credentials token for one Session, reused until shortly before it expires.

    The POST is sent on the client's own Session (so load-balancer cookies are kept) rather than
    through OAuth2Session, so we see the status of each token URL and can fall back on 404/405.
    """

    def __init__(self, transport: Transport, settings: ConnectionSettings, credentials_hint: str,
                 clock=time.monotonic):
        self.transport = transport
        self.settings = settings
        self.hint = credentials_hint
        self.clock = clock
        self._token = ""
        self._refresh_at = 0.0
        self.granted = ""  # the scopes the last token reply granted (space-separated)

    def header(self) -> str:
        """Authorization header value, fetching a token when none is cached or it is about to expire."""
        if not self._token or self.clock() >= self._refresh_at:
            self.fetch()
        return f"Bearer {self._token}"

    def invalidate(self) -> None:
        """Forget the cached token (after a 401) so the next call fetches a fresh one."""
        self._token = ""

    def fetch(self) -> None:
        """Request a token from each configured URL in turn (falling back only on 404/405).

        A SIS that refuses the scopes we ask for gets one more request with the core scope alone.
        """
        scope, core = self.settings.scope.strip(), self.settings.core_scope
        try:
            self._fetch(scope)
        except ScopeRefused:
            if not scope or scope == core:
                raise
            self._fetch(core)

    def _fetch(self, scope: str) -> None:
        client = BackendApplicationClient(client_id=self.settings.client_id)
        body = client.prepare_request_body(scope=scope or None, include_client_id=False)
        auth = HTTPBasicAuth(self.settings.client_id, self.settings.client_secret)
        tried = []
        for url in self.settings.token_urls:
            reply = self.transport.send("POST", url, data=body, auth=auth, headers={
                "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"})
            tried.append(reply.shown_url)
            if reply.status in (404, 405):
                continue
            self._accept(reply, scope)
            return
        where = " or ".join(tried) or "(no token URL configured)"
        raise NotFound(f"The SIS has no token endpoint at {where} (HTTP 404). Check the URL: it should be "
                       "the address the SIS vendor gave for the OneRoster API.", status=404, url=where)

    def _accept(self, reply, scope: str) -> None:
        said = describe_body(reply.body, reply.headers.get("Content-Type", ""))
        if reply.status in (400, 401, 403):
            self._refused(reply, oauth_error(reply.body), scope, said)
        if reply.status != 200:
            raise BadResponse(f"The token request to {reply.shown_url} failed with HTTP {reply.status}. "
                              f"{said + ' ' if said else ''}Check the URL.", status=reply.status,
                              url=reply.shown_url)
        if looks_like_html(reply.body):
            raise BadResponse(f"The token URL {reply.shown_url} returned a web page instead of a token; "
                              "check that the URL points at the SIS's OneRoster API.", url=reply.shown_url)
        try:
            payload = load_json(reply.body, reply.headers.get("Content-Type", ""))
        except (UnicodeDecodeError, ValueError):
            payload = None
        token = payload.get("access_token") if isinstance(payload, dict) else None
        if not isinstance(token, str) or not token:
            if code := oauth_error(reply.body):  # RFC 6749 5.2 says 400, but some servers answer 200 with it
                self._refused(reply, code, scope, said)
            raise BadResponse(f"The token response from {reply.shown_url} has no access_token. "
                              f"{said + ' ' if said else ''}Check the token URL.", url=reply.shown_url)
        self._keep(reply, payload, token, scope)

    def _refused(self, reply, code: str, scope: str, said: str) -> None:
        """Raise what an OAuth error from the token endpoint means for the district (RFC 6749 5.2 codes)."""
        if code in UNAVAILABLE_ERRORS:
            raise BadResponse(f"The SIS's token endpoint {reply.shown_url} answered {code} (HTTP {reply.status}): the "
                              f"SIS has a problem on its side, not with the Client ID and Secret. {said + ' ' if said else ''}"
                              "Try again later; if it lasts, send this message to the SIS vendor's support.",
                              status=reply.status, url=reply.shown_url)
        if code in SCOPE_ERRORS:
            raise ScopeRefused(
                "The district granted this client less than it needs: "
                f"{scope_request(scope or self.settings.core_scope)} "
                f"(HTTP {reply.status} {code} from {reply.shown_url}.) {said}".strip(),
                status=reply.status, url=reply.shown_url)
        if code in URL_ERRORS:
            raise BadResponse(
                f"The token URL {reply.shown_url} {URL_ERRORS[code]} (HTTP {reply.status} {code}). "
                f"{said + ' ' if said else ''}Check that it is the SIS's OneRoster token URL and that the client "
                "was set up for server-to-server (client credentials) access; the Client ID and Secret were "
                "not what it refused.", status=reply.status, url=reply.shown_url)
        raise AuthenticationFailed(
            f"The SIS refused the Client ID and Secret (HTTP {reply.status} from {reply.shown_url}). "
            f"{said + ' ' if said else ''}{self.hint}", status=reply.status, url=reply.shown_url)

    def _keep(self, reply, payload: dict, token: str, scope: str) -> None:
        """Hold the token the SIS issued, with the scope it granted and how long it lasts."""
        self._token = token
        self.transport.redactor.add(token)  # an SIS that echoes the bearer token later must not show it
        # RFC 6749 5.1: `scope` is in the reply when it differs from the request; absent means "as asked".
        granted = payload.get("scope")
        # Space-delimited in RFC 6749 3.3; some servers join scopes with commas instead (GitHub's OAuth does).
        self.granted = " ".join(granted.replace(",", " ").split()) if isinstance(granted, str) and granted.strip() \
            else scope
        lifetime = token_lifetime(payload.get("expires_in"))
        if lifetime is None:  # unknown: keep it until the SIS refuses it (a 401 fetches a fresh one, see client.get)
            self._refresh_at = math.inf
            return
        margin = min(REFRESH_MARGIN, lifetime / 10)
        self._refresh_at = self.clock() + lifetime - margin

    def grants(self, scope: str) -> bool:
        """False only when the token reply named its scopes and `scope` is not among them. A scope granted by its
        short name ("roster.readonly") counts as the URI asked for (".../scope/roster.readonly"): read strictly, a
        server that echoes short names would have every school listing skipped as if refused."""
        if not self.granted:
            return True
        granted = self.granted.split()
        return scope in granted or _short(scope) in {_short(g) for g in granted}


def _short(scope: str) -> str:
    return scope.rstrip("/").rsplit("/", 1)[-1].lower()


def token_lifetime(value) -> float | None:
    """expires_in in seconds (at least MIN_LIFETIME), or None when missing, zero, negative or unreadable: RFC 6749
    5.1 makes it optional, and read as 0 such values had a token fetched before every page."""
    if isinstance(value, bool):
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(seconds) or seconds <= 0:
        return None
    return max(MIN_LIFETIME, seconds)


def oauth_error(body: bytes) -> str:
    """The OAuth 2.0 `error` code of a token error reply ("" when there is none)."""
    try:
        payload = load_json(body)
    except (UnicodeDecodeError, ValueError):
        return ""
    code = payload.get("error") if isinstance(payload, dict) else None
    return code.strip().lower() if isinstance(code, str) else ""


def scope_request(scope: str) -> str:
    """What to ask the district for when a scope was refused."""
    uris = (scope or CORE_SCOPE).split()
    names = " and ".join(u.rsplit("/", 1)[-1] for u in uris)
    return (f"ask the district's SIS administrator for the OneRoster scope{'s' if len(uris) > 1 else ''} {names} "
            f"({' '.join(uris)}) for this client; the sync needs at least roster-core.readonly.")
