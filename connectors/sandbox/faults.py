"""Fault injection switches for the sandbox, changeable while it serves."""
import threading
from dataclasses import asdict, dataclass, field, fields

PAGE_FAULTS = ("error_500", "reset", "slow", "trickle", "malformed_json", "html_page", "truncated", "bad_compression",
               "redirect_loop", "bad_redirect", "bad_link", "delete_mid_paging")
RECORD_FAULTS = ("tobedeleted", "duplicates", "missing_names", "unreadable_dates", "vendor_formats", "parent_links")


@dataclass
class Faults:
    """Page faults are {"path": substring, "page": n, ...}; page n is offset // limit."""

    rate_limit_every: int = 0      # every Nth data request answers 429
    rate_limit_storm: int = 0      # the next K data requests answer 429
    retry_after: float = 1.0       # Retry-After seconds sent with 429
    error_500: dict | None = None  # + "times": how often that page fails before it works
    reset: dict | None = None      # TCP RST instead of an answer; + "times" as for error_500
    slow: dict | None = None       # + "seconds"
    trickle: dict | None = None    # the body a few bytes at a time, spread over + "seconds"
    malformed_json: dict | None = None
    html_page: dict | None = None  # + "status" (default 200)
    truncated: dict | None = None
    bad_compression: dict | None = None  # Content-Encoding: deflate over bytes that are not; + "times"
    redirect_loop: dict | None = None    # 302 to the same listing on the same host, for ever
    bad_redirect: dict | None = None     # 302 with a Location no URL parser reads ("http://[::1")
    bad_link: dict | None = None         # the page is served with a Link rel="next" no URL parser reads
    # Before serving the page, the SIS hard-deletes the listing's first record (read on page 0), so every later
    # record moves one place back and one is never served; + "times" (default 1), as for error_500
    delete_mid_paging: dict | None = None
    # how single-user look-ups (users/{id}) answer: "" as they should; "html" a web page, "first_user" the record of
    # the first user whatever id was asked, "no_orgs" the record without its orgs, "offsite" a 302 to another host
    lookup_answer: str = ""
    token_expiry_after: int = 0    # a token stops working after N data requests
    body_charset: str = ""         # data pages encoded in this charset (iso-8859-1, utf-16) instead of UTF-8 ...
    charset_declared: bool = True  # ... and named in their Content-Type (False: sent as plain application/json)
    deny: list[str] = field(default_factory=list)  # path substrings answered 403
    hang: float = 0.0              # every request waits this long before answering
    # An SIS that repeats the credentials: "token" refuses every token request with an error body repeating the
    # Authorization header, client id:secret and the URL-encoded secret; "data" answers every data request
    # 400 repeating its bearer token; "records" serves the first person of each listing without names and with
    # a note repeating the request's Authorization header and the secret (a per-record issue).
    echo_credentials: str = ""
    refuse_listings: list[str] = field(default_factory=list)  # rel paths; "schools/*/students" for every school
    unpaged: list[str] = field(default_factory=list)  # rel paths that ignore limit/offset and send no count or Link
    filter_refused: bool = False   # any request with a filter answers 400 invalid_filter_field (no filter support)
    offset_ignored: list[str] = field(default_factory=list)  # rel paths that cap limit but always serve offset 0
    # school-scoped rel paths ("schools/*/students") that ignore their school and send the district's people, from
    # page scope_ignored_from on (0: every page; 1: the first page is the school's, later ones are not)
    scope_ignored: list[str] = field(default_factory=list)
    scope_ignored_from: int = 0
    refuse_how: str = "forbidden"  # forbidden (403 insufficient_scope) | missing (404) | iis (HTML 404) | unsupported
    #                                | challenge (401, WWW-Authenticate: Bearer error="insufficient_scope", no body)
    credentials_expired: bool = False  # token requests and existing tokens answer 401, as after an expiry date
    scope_required: bool = False   # a token request without `scope` is refused (Aeries: "Scopes MUST be included")
    scopes_granted: list[str] | None = None  # scopes this client may have; asking for others is refused
    scope_error: str = "invalid_scope"        # the OAuth error code of such a refusal (or unauthorized_client)
    scope_reply: str = ""          # how the token reply names the granted scopes: "short" names, "commas" between
    tobedeleted: int = 0
    duplicates: int = 0
    missing_names: int = 0
    unreadable_dates: int = 0      # students served with dateLastModified "09/21/2017"
    vendor_formats: bool = False   # every user as vendors write them (see formats.restyle)
    parent_links: str = "both"     # "guardian_side": only the guardians' agents name their students


class FaultState:
    """Current faults plus the counters they need; thread-safe."""

    def __init__(self):
        self.lock = threading.Lock()
        self.faults = Faults()
        self.data_requests = 0
        self.page_hits: dict[str, int] = {}

    def set(self, **changes) -> Faults:
        names = {f.name for f in fields(Faults)}
        unknown = set(changes) - names
        if unknown:
            raise ValueError(f"Unknown faults: {sorted(unknown)}; known: {sorted(names)}")
        with self.lock:
            for name, value in changes.items():
                setattr(self.faults, name, value)
            self.page_hits.clear()
            return self.faults

    def clear(self) -> None:
        with self.lock:
            self.faults = Faults()
            self.page_hits.clear()

    def snapshot(self) -> dict:
        with self.lock:
            return asdict(self.faults)

    def count_data_request(self) -> bool:
        """Count one data request; True when it must be answered 429."""
        with self.lock:
            self.data_requests += 1
            f = self.faults
            if f.rate_limit_storm > 0:
                f.rate_limit_storm -= 1
                return True
            return bool(f.rate_limit_every) and self.data_requests % f.rate_limit_every == 0

    def page_fault(self, name: str, path: str, page: int) -> dict | None:
        """The fault spec when `name` targets this path and page (error_500 and reset honour "times")."""
        with self.lock:
            spec = getattr(self.faults, name)
            if not spec or spec.get("path", "") not in path or int(spec.get("page", 0)) != page:
                return None
            if name in ("error_500", "reset", "bad_compression", "delete_mid_paging"):
                key = f"{path}#{page}"
                self.page_hits[key] = self.page_hits.get(key, 0) + 1
                if self.page_hits[key] > int(spec.get("times", 1)):
                    return None
            return spec

    def refused(self, path: str) -> str:
        """How a refused listing is answered ("" when it is served)."""
        with self.lock:
            return self.faults.refuse_how if matches(self.faults.refuse_listings, path) else ""

    def unpaged(self, path: str) -> bool:
        with self.lock:
            return matches(self.faults.unpaged, path)

    def offset_ignored(self, path: str) -> bool:
        with self.lock:
            return matches(self.faults.offset_ignored, path)

    def scope_ignored(self, path: str, page: int) -> bool:
        with self.lock:
            return matches(self.faults.scope_ignored, path) and page >= self.faults.scope_ignored_from

    def denied(self, path: str) -> bool:
        with self.lock:
            return any(part and part in path for part in self.faults.deny)


def matches(patterns: list[str], path: str) -> bool:
    """True when a pattern such as "schools/*/students" names `path` ("*" is one segment)."""
    parts = path.split("/")
    for pattern in patterns:
        wanted = pattern.split("/")
        if len(wanted) == len(parts) and all(w in ("*", p) for w, p in zip(wanted, parts)):
            return True
    return False
