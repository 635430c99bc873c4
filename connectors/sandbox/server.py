"""The sandbox's HTTP layer: token endpoints, OneRoster collections, faults and the admin API."""
import json
import socket
import struct
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, parse_qsl, quote, unquote, urlencode, urlsplit

from ..settings import CORE_SCOPE, ROSTER_SCOPE, ROSTER_SCOPES
from .listing import BadQuery, parse_filter, render, select
from .v12 import DATA12

DATA = "/ims/oneroster/v1p1/"
ADMIN_PATH = "/_sandbox/admin"
PEOPLE = ("users", "students", "teachers")
ENVELOPES = {  # what each vendor calls the list in each collection
    "aeries": {"students": "users", "teachers": "users", "schools": "orgs", "terms": "academicSessions"},
    "infinite-campus": {"students": "users", "teachers": "users", "schools": "orgs",
                        "terms": "academicSessions"},
    "oneroster": {},
}
SCHOOL_SCOPED = {"students", "teachers", "classes", "enrollments", "terms", "courses"}
AERIES_UNSUPPORTED = {"classes", "courses", "terms"}


def imsx(description: str, major: str = "failure", minor: str = "", severity: str = "error") -> bytes:
    info = {"imsx_codeMajor": major, "imsx_severity": severity, "imsx_description": description}
    if minor:
        info["imsx_CodeMinor"] = {"imsx_codeMinorField": [
            {"imsx_codeMinorFieldName": "TargetEndSystem", "imsx_codeMinorFieldValue": minor}]}
    return json.dumps({"statusInfoSet": [info]}).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    timeout = 30

    def log_message(self, *args):  # keep test output clean
        pass

    @property
    def box(self):
        return self.server.sandbox

    def send(self, status: int, body: bytes, ctype: str = "application/json", headers: dict | None = None,
             cut: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if cut:  # promise the whole body, send half, hang up: a truncated response
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

    def reset(self) -> None:
        """Abort the connection with a TCP RST (SO_LINGER on, 0 s), as a crashing load balancer does."""
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.rfile.close()  # the read file holds a reference; without this close() would not close yet
        self.connection.close()

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _hang(self) -> None:
        seconds = self.box.faults.faults.hang
        if seconds:
            self.box.stopping.wait(seconds)

    def do_POST(self):
        parts = urlsplit(self.path)
        body = self._body()
        if parts.path == ADMIN_PATH:
            return self._admin(body)
        self._hang()
        if parts.path not in self.box.token_paths:
            return self.send(404, imsx("No such endpoint", minor="unknownobject"))
        return self._token(parts, body)

    def do_GET(self):
        parts = urlsplit(self.path)
        self._hang()
        found = [(prefix, version) for prefix, version in self.box.data_prefixes if parts.path.startswith(prefix)]
        if not found:
            page = b"<!DOCTYPE html><html><head><title>404 - File or directory not found.</title></head></html>"
            return self.send(404, page, "text/html")
        prefix, self.version = found[0]
        if self.box.faults.count_data_request():
            retry = self.box.faults.faults.retry_after
            return self.send(429, imsx("Too many requests", minor="server_busy"),
                             headers={"Retry-After": f"{retry:g}"})
        if not self._authorised(parts):
            return self.send(401, imsx("Unauthorized: invalid or expired access token", minor="unauthorisedrequest"))
        if self.box.faults.faults.echo_credentials == "data":
            header = self.headers.get("Authorization", "")
            return self.send(400, imsx(f"Request refused for access token {header.partition(' ')[2]} ({header})",
                                       minor="invalid_data"))
        rel = parts.path[len(prefix):].strip("/")
        how = self.box.faults.refused(rel)
        if how:
            return self._refuse(how, rel)
        if self._scope_refuses(rel):
            return self.send(403, imsx(f"The access token's scopes do not cover {rel}", minor="insufficient_scope"))
        if self.box.faults.denied(rel):
            return self.send(403, imsx(f"Access to {rel} is not allowed for this client", minor="forbidden"))
        try:
            return self._data(rel, parts)
        except BadQuery as exc:
            return self.send(400, imsx(str(exc), minor=exc.minor))

    def _authorised(self, parts) -> bool:
        creds, box = self.box.credentials, self.box
        if box.faults.faults.credentials_expired:
            return False
        if box.auth == "oauth1":
            uri = f"http://{self.headers.get('Host', '')}{parts.path}"
            return creds.oauth1_ok("GET", uri, parts.query, self.headers.get("Authorization", ""))
        if not creds.bearer_ok(self.headers.get("Authorization", ""), box.faults.faults.token_expiry_after):
            return False
        if box.vendor == "aeries":
            cookie = self.headers.get("Cookie", "")
            pairs = dict(p.strip().split("=", 1) for p in cookie.split(";") if "=" in p)
            return pairs.get("AeriesAffinity") in creds.cookies
        return True

    def _token(self, parts, body: bytes) -> None:
        box = self.box
        if box.vendor == "infinite-campus" and parse_qs(parts.query).get("appName") != [box.app_name]:
            return self.send(400, json.dumps({"error": "invalid_request",
                                              "error_description": "unknown appName"}).encode())
        form = dict(parse_qsl(body.decode("utf-8", "replace")))
        if form.get("grant_type") != "client_credentials":
            return self.send(400, json.dumps({"error": "unsupported_grant_type"}).encode())
        if box.faults.faults.echo_credentials == "token":
            creds, header = box.credentials, self.headers.get("Authorization", "")
            said = (f"Client authentication failed for Authorization: {header} (client {creds.client_id}:"
                    f"{creds.client_secret}, client_secret={quote(creds.client_secret, safe='')})")
            return self.send(401, json.dumps({"error": "invalid_client", "error_description": said}).encode())
        if not box.credentials.basic_ok(self.headers.get("Authorization", "")) or box.faults.faults.credentials_expired:
            return self.send(401, json.dumps({"error": "invalid_client",
                                              "error_description": "Client authentication failed"}).encode())
        granted, refusal = self._scopes(form.get("scope", ""))
        if refusal:
            return self.send(400, json.dumps(refusal).encode())
        token, cookie = box.credentials.issue(" ".join(granted))
        headers = {"Cache-Control": "no-store"}
        if box.vendor == "aeries":
            headers["Set-Cookie"] = f"AeriesAffinity={cookie}; Path={box.base_path}; HttpOnly"
        style = box.faults.faults.scope_reply
        named = [g.rsplit("/", 1)[-1] for g in granted] if style == "short" else granted
        payload = {"access_token": token, "token_type": "Bearer", "expires_in": box.token_lifetime,
                   "scope": ("," if style == "commas" else " ").join(named)}
        return self.send(200, json.dumps(payload).encode(), headers=headers)

    def _refuse(self, how: str, rel: str) -> None:
        """A listing this server does not serve, answered the way real servers do."""
        if how == "iis":
            page = b"<!DOCTYPE html><html><head><title>404 - File or directory not found.</title></head></html>"
            return self.send(404, page, "text/html")
        if how == "missing":
            return self.send(404, imsx(f"Unknown endpoint {rel}", minor="unknownobject"))
        if how == "challenge":
            return self.send(401, b"", headers={"WWW-Authenticate": 'Bearer error="insufficient_scope"'})
        if how == "unsupported":
            return self.send(400, imsx(f"{rel} is not supported", major="unsupported", minor="unsupported"))
        return self.send(403, imsx(f"The access token's scopes do not cover {rel}", minor="insufficient_scope"))

    def _scopes(self, asked: str) -> tuple[list[str], dict | None]:
        """(granted scopes, OAuth error reply or None) for a token request's `scope`."""
        faults = self.box.faults.faults
        wanted = asked.split()
        if not wanted and faults.scope_required:
            return [], {"error": faults.scope_error, "error_description": "At least one scope must be requested"}
        allowed = faults.scopes_granted
        refused = [s for s in wanted if allowed is not None and s not in allowed]
        if refused:
            return [], {"error": faults.scope_error, "error_description": f"Scope not granted: {' '.join(refused)}"}
        return wanted or list(allowed if allowed is not None else (CORE_SCOPE, ROSTER_SCOPE)), None

    def _scope_refuses(self, rel: str) -> bool:
        """School-scoped collections need roster.readonly; a token granted only roster-core gets 403."""
        if self.box.auth != "oauth2" or not rel.startswith("schools/") or rel.count("/") < 2:
            return False
        granted = self.box.credentials.scopes_of(self.headers.get("Authorization", ""))
        return bool(granted) and ROSTER_SCOPES[self.version] not in granted

    def _data(self, rel: str, parts) -> None:
        box = self.box
        segments = [unquote(segment) for segment in rel.split("/")]  # users/a%2Fb is the user "a/b", as a SIS reads it
        school = None
        if len(segments) == 3 and segments[0] == "schools" and segments[2] in SCHOOL_SCOPED:
            if box.vendor == "aeries" and segments[2] in AERIES_UNSUPPORTED:
                return self.send(404, imsx("This endpoint is not supported", minor="unsupported"))
            school, kind = segments[1], segments[2]
            if school not in box.data.school_ids:
                return self.send(404, imsx(f"School {school} not found", minor="unknownobject"))
        elif len(segments) == 2 and segments[0] in ("users", "schools", "orgs"):
            return self._one(segments[0], segments[1], self.version)
        elif len(segments) == 1 and segments[0] in ("orgs", "schools", "academicSessions", "terms", "users",
                                                   "students", "teachers", "courses", "classes", "enrollments"):
            kind = segments[0]
        else:
            return self.send(404, imsx(f"Unknown endpoint {rel}", minor="unknownobject"))
        query = dict(parse_qsl(parts.query))
        try:
            limit = min(int(query.get("limit", 100)), box.page_cap)
            offset = int(query.get("offset", 0))
        except ValueError:
            raise BadQuery("limit and offset must be whole numbers") from None
        if limit < 1 or offset < 0:
            raise BadQuery("limit must be at least 1 and offset not negative")
        fields = [f for f in query.get("fields", "").split(",") if f]
        if query.get("filter") and box.faults.faults.filter_refused:
            raise BadQuery("The filter parameter is not supported", "invalid_filter_field")
        version = self.version
        if offset and box.faults.page_fault("delete_mid_paging", rel, offset // limit):
            box.hard_delete(data_ids[0] if (data_ids := box.data.user_ids(kind, school, version)) else "")
        if school is not None and box.faults.scope_ignored(rel, offset // limit):
            school = None  # a SIS that ignores the school in the path: the district's people of that kind
        items, serialised = select(box.data, kind, school, parse_filter(query.get("filter", "")), fields, version)
        # 1.2's REST binding keeps the 1.1 envelope names (users, orgs, academicSessions); the vendors' own
        # spellings (students, schools, terms) are served at both paths alike.
        envelope = ENVELOPES[box.vendor].get(kind, kind)
        if box.faults.unpaged(rel):  # limit and offset ignored: the whole collection, every time
            box.count_served(rel, len(items))
            return self._send_page(rel, 0, render(box.data, envelope, items, serialised, fields, version), {})
        if box.faults.offset_ignored(rel):  # limit (and the cap) honoured, offset not: the first page again
            offset = 0
        page_items = items[offset:offset + limit]
        box.count_served(rel, len(page_items))
        body = render(box.data, envelope, page_items, serialised, fields, version)
        headers = {}
        if box.total_header:
            headers["X-Total-Count"] = str(len(items))
        if box.link_header and offset + limit < len(items):
            query.update(limit=str(limit), offset=str(offset + limit))
            next_url = f"http://{self.headers.get('Host')}{parts.path}?{urlencode(query, quote_via=quote)}"
            headers["Link"] = f'<{next_url}>; rel="next"'
        return self._send_page(rel, offset // limit, body, headers)

    def _send_page(self, rel: str, page: int, body: bytes, headers: dict) -> None:
        faults = self.box.faults
        if faults.page_fault("error_500", rel, page):
            return self.send(500, imsx("Internal server error", minor="internal_server_error"))
        if faults.page_fault("reset", rel, page):
            return self.reset()
        slow = faults.page_fault("slow", rel, page)
        if slow:
            self.box.stopping.wait(float(slow.get("seconds", 1.0)))
        if faults.page_fault("malformed_json", rel, page):
            return self.send(200, body[:-3] + b",,}", headers=headers)
        html = faults.page_fault("html_page", rel, page)
        if html:
            page_html = b"<html><head><title>Service Unavailable</title></head><body>Try later</body></html>"
            return self.send(int(html.get("status", 200)), page_html, "text/html")
        if faults.page_fault("bad_compression", rel, page):
            return self.send(200, b"this is not deflate data", headers={**headers, "Content-Encoding": "deflate"})
        if faults.page_fault("redirect_loop", rel, page):
            return self.send(302, b"", headers={"Location": self.path})  # requests gives up after 30 hops
        if faults.page_fault("bad_redirect", rel, page):
            return self.send(302, b"", headers={"Location": "http://[::1"})
        if faults.page_fault("bad_link", rel, page):
            headers = {**headers, "Link": '<http://[::1>; rel="next"'}
        if faults.faults.echo_credentials == "records" and page == 0 and rel.split("/")[-1] in PEOPLE:
            body = self._echo_into_first_record(body)
        trickle = faults.page_fault("trickle", rel, page)
        if trickle:
            return self._trickle(body, headers, float(trickle.get("seconds", 5.0)))
        cut = bool(faults.page_fault("truncated", rel, page))
        charset, ctype = faults.faults.body_charset, "application/json"
        if charset:  # an older server's own encoding, declared or not
            body = body.decode("utf-8").encode(charset, "backslashreplace")  # "ễ" as \u1ec5, as JSON escapes it
            ctype += f"; charset={charset}" if faults.faults.charset_declared else ""
        return self.send(200, body, ctype, headers=headers, cut=cut)

    def _trickle(self, body: bytes, headers: dict, seconds: float) -> None:
        """Headers at once, then the body in 20 pieces spread over `seconds` (each gap well inside a read time-out)."""
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        step = max(1, len(body) // 20)
        try:
            for start in range(0, len(body), step):
                self.wfile.write(body[start:start + step])
                self.wfile.flush()
                if self.box.stopping.wait(seconds / 20):
                    break
        except OSError:  # the client stopped reading and hung up
            self.close_connection = True

    def _echo_into_first_record(self, body: bytes) -> bytes:
        """The first person loses its names and gains a note repeating the request's credentials."""
        payload = json.loads(body)
        records = next(iter(payload.values()), [])
        if records:
            header, secret = self.headers.get("Authorization", ""), self.box.credentials.client_secret
            note = f"Authorization: {header}; secret {secret}"
            first = {"note": note, **{k: v for k, v in records[0].items() if k not in ("givenName", "familyName")}}
            records[0] = first
        return json.dumps(payload, ensure_ascii=False).encode()

    def _one(self, collection: str, sid: str, version: str = "1.1") -> None:
        data = self.box.data
        if collection == "users":
            with data.lock:
                sid = data.v12_source(sid) if version == "1.2" else sid
                record = data.served_as(sid, version) if sid in data.users else None
            key = "user"
        else:
            record = next((o for o in data.orgs if o["sourcedId"] == sid), None)
            key = "org"
        self.box.count_lookup(collection)
        answer = self.box.faults.faults.lookup_answer if collection == "users" else ""
        if answer == "html":
            return self.send(200, b"<html><head><title>Sign in</title></head><body>Sign in</body></html>", "text/html")
        if answer == "offsite":
            return self.send(302, b"", headers={"Location": f"http://offsite.invalid/users/{sid}"})
        if answer == "first_user":
            with data.lock:
                record = data.served_as(next(iter(data.users)), version)
        if record is None:
            return self.send(404, imsx(f"{collection} {sid} not found", minor="unknownobject"))
        if answer == "no_orgs":
            record = {k: v for k, v in record.items() if k not in ("orgs", "roles", "primaryOrg")}
        return self.send(200, json.dumps({key: record}, ensure_ascii=False).encode())

    def _admin(self, body: bytes) -> None:
        try:
            request = json.loads(body or b"{}")
            result = self.box.admin(request.pop("action", ""), **request)
        except (ValueError, TypeError, KeyError) as exc:
            return self.send(400, json.dumps({"error": str(exc)}).encode())
        return self.send(200, json.dumps(result, ensure_ascii=False, default=str).encode())


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, sandbox, port: int):
        self.sandbox = sandbox
        super().__init__(("127.0.0.1", port), Handler)

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return  # the client gave up (time-out tests do this on purpose)
        super().handle_error(request, client_address)
