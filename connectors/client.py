"""OneRoster 1.1 REST client: one Session, authenticated, paged, with typed errors."""
import random
import time
from collections.abc import Iterator
from datetime import datetime
from urllib.parse import parse_qs, quote, urlsplit

import requests

from . import people
from .auth import TokenSource, oauth1_signer
from .errors import AuthenticationFailed, BadResponse, ConnectorError, NotFound, PermissionDenied
from .expiry import refused_hint
from .imsx import describe_body, looks_like_html, mentions
from .netguard import OutboundPolicy, guard_session
from .paging import area_of, collection_of, decode_one, decode_page, next_link, total_count
from .profiles import PROFILES, Profile
from .redact import Redactor
from .records import NOT_SCHOOLS, PersonRecord, RecordProblem, SchoolRecord, normalise_school
from .secret_reuse import credential_origins, stay_on_origins
from .settings import ConnectionSettings
from .transport import MAX_BODY_SECONDS, MAX_PAGE_BYTES, Reply, Transport

USER_AGENT = "RosteringPortal/0.1 (OneRoster 1.1 and 1.2 client)"


class OneRosterClient:
    """Reads one SIS; use as a context manager so the Session is closed.

    `policy` says which destinations may be called (see netguard); None allows any, so the
    portal passes its strict policy explicitly.
    """

    def __init__(self, settings: ConnectionSettings, *, timeout=(5, 30), max_retries=4, page_size=1000,
                 sleep=time.sleep, max_page_bytes=MAX_PAGE_BYTES, deadline: float | None = None,
                 clock=time.monotonic, policy: OutboundPolicy | None = None, redactor: Redactor | None = None,
                 max_body_seconds: float = MAX_BODY_SECONDS, jitter=random.random):
        self.settings = settings
        self.profile: Profile = PROFILES.get(settings.vendor, PROFILES["oneroster"])
        self.page_size = page_size
        self.redactor = redactor or Redactor()
        self.redactor.add(settings.client_secret, settings.client_id)
        self.session = requests.Session()
        guard_session(self.session, policy)
        self.session.headers.update({"Accept": "application/json", "User-Agent": USER_AGENT})
        self.session.hooks["response"].append(stay_on_origins(credential_origins(settings)))
        self.transport = Transport(self.session, timeout=timeout, max_retries=max_retries, sleep=sleep,
                                   max_bytes=max_page_bytes, deadline=deadline, clock=clock, redactor=self.redactor,
                                   max_body_seconds=max_body_seconds, jitter=jitter)
        self._signer = oauth1_signer(settings) if settings.auth_mode == "oauth1" else None
        # After the credentials' expiry date a refusal is worded as "probably expired".
        self.credentials_hint = refused_hint(settings.credentials_expire_on, self.profile.credentials_hint,
                                             self.profile.renew_hint)
        self.tokens = None if self._signer else TokenSource(
            self.transport, settings, self.credentials_hint, clock=clock)

    @property
    def request_count(self) -> int:
        """HTTP requests sent so far, token requests and retries included."""
        return self.transport.request_count

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        self.session.close()

    def bound_waits(self, deadline: float, keepalive=None) -> None:
        """No wait the SIS asks for may end after the run's `deadline` (on the client's clock): such a wait fails at
        once. `keepalive` runs between slices of a long wait (a Retry-After of minutes) so the run's lock and
        heartbeat stay fresh. Requests are not cut short by it: the run stops a slow read itself, saying so."""
        self.transport.wait_deadline = deadline
        self.transport.keepalive = keepalive

    def authenticate(self) -> None:
        """Get a token now (OAuth 2.0); a no-op for OAuth 1.0a, which signs each request."""
        if self.tokens:
            self.tokens.header()

    def url_for(self, path: str) -> str:
        return f"{self.settings.data_url}/{path.lstrip('/')}"

    def get(self, url: str, params: dict | None = None) -> Reply:
        """GET with auth; on 401 get a fresh token (or re-sign) once, then map errors to types."""
        for attempt in range(2):
            headers = {"Authorization": self.tokens.header()} if self.tokens else {}
            reply = self.transport.send("GET", url, params=params, headers=headers, auth=self._signer)
            if reply.status == 401 and attempt == 0 and not _scope_too_narrow(reply):
                if self.tokens:
                    self.tokens.invalidate()
                continue
            if reply.status >= 400:
                raise self._error(reply)
            return reply
        raise AssertionError("unreachable")

    def _error(self, reply: Reply) -> Exception:
        said = describe_body(reply.body, reply.headers.get("Content-Type", ""))
        said = f"{said} " if said else ""
        shown, status = reply.shown_url, reply.status
        area = area_of(reply.url.split("?")[0])
        if status in (401, 403) and _scope_too_narrow(reply):
            return PermissionDenied(f"The district granted this client less than it needs for {shown} (HTTP {status} "
                                    "insufficient_scope): ask the district's SIS administrator for the OneRoster "
                                    f"scope roster.readonly ({self.settings.roster_scope}) for this client.",
                                    area=area, status=status, url=shown)
        if status == 401:
            what = "signed requests" if self._signer else "access token, even a fresh one,"
            return AuthenticationFailed(f"The SIS refused our {what} (HTTP 401 on {shown}). {said}"
                                        f"{self.credentials_hint}", status=status, url=shown)
        if status == 403:
            label = self.profile.area_label(area)
            fix = self.profile.fix_for(area, app_name=self.settings.app_name)
            return PermissionDenied(f"The SIS denied read access to {label} (HTTP 403 on {shown}).", fix=fix,
                                    area=area, url=shown)
        if status in (400, 404, 405, 422, 501) and mentions(reply.body, "unsupported"):
            return NotFound(f"The SIS does not offer {shown} (HTTP {status}). {said}", status=status, url=shown)
        if status in (404, 410, 501):
            return NotFound(f"The SIS has nothing at {shown} (HTTP {status}). {said}Check the URL and the "
                            "School ID.", status=status, url=shown, web_page=looks_like_html(reply.body))
        return BadResponse(f"The SIS refused the request to {shown} (HTTP {status}). {said}If this keeps "
                           "happening, send this message to the SIS vendor's support.", status=status, url=shown)

    def iter_pages(self, path: str, *, params: dict | None = None, filter: str | None = None,
                   fields: list[str] | str | None = None) -> Iterator[list[dict]]:
        """Raw records page by page, sorted by sourcedId; complete when the iterator ends."""
        base = self.url_for(path)
        query = {"limit": self.page_size, "offset": 0, "sort": "sourcedId"}
        query.update(params or {})
        if filter:
            query["filter"] = filter
        if fields:
            query["fields"] = fields if isinstance(fields, str) else ",".join(fields)
        offset, limit = int(query["offset"]), int(query["limit"])
        collection = collection_of(path)
        url, url_params, followed, previous, announced, promised = base, dict(query), set(), None, None, False
        starts: dict[str, int] = {}  # the sourcedId each page began with -> that page's offset
        past_count = False  # the records reached the announced count on a full page: this page confirms the end
        widest = 0  # the longest page so far: the limit the server honours (some cap it below ours, silently)
        linked = False  # paged by the SIS's own Link next: its pages are the server's positions, not our offset
        while True:
            try:
                reply = self.get(url, url_params)
                records = decode_page(reply, collection)
            except ConnectorError as exc:
                # a server that refuses an offset past its count (400, 404, 416): the count was the end; an outage
                # (5xx, 429, a time-out, a web page) says nothing about the end and fails the read
                if past_count and getattr(exc, "status", None) in PAST_THE_END:
                    return
                raise
            count = total_count(reply)
            if count is not None and count < offset + len(records):
                count = None  # fewer than already sent (a server sending 0): wrong, so page on to an empty page
            if count is not None:
                announced = count
            if not records:
                # by offset or by the server's own Link: an empty page before the announced count is not the end
                # (a Link that skips pages read 200 of 376 users and the rest counted as having left)
                if announced is not None and offset < announced and not filter:
                    raise self._ended_early(collection, offset, announced, reply)
                return
            ids = [_sourced_id(r) for r in records]
            if past_count and ids[0] is not None and (ids[0] in starts or ids[0] == previous[0]):
                return  # the server wraps around (or repeats) past its count: the count was right
            past_count = False
            if previous is not None and ids[0] is not None and ids[0] == previous[0]:
                _repeat_is_the_whole(ids, previous, offset, limit, announced, promised, collection, reply,
                                     by_link=url_params is None and _link_goes_back(url, offset))
                return  # a server that ignores offset sent its whole (short) collection again
            if ids[0] is not None and ids[0] in starts:
                raise self._started_over(collection, offset, starts[ids[0]], reply)
            if ids[0] is not None:
                starts[ids[0]] = offset
            previous, promised = ids, "next" in reply.links()
            yield records
            offset += len(records)
            widest = max(widest, len(records))
            nxt = next_link(reply, base)
            if nxt and nxt not in followed:
                followed.add(nxt)
                url, url_params, linked = nxt, None, True
                continue
            if linked:
                # Paged by Link, a page without one is the server's end (a cursor server ignores offset). Our own
                # offset is no position there: paging on by it after a Link that skipped a page read some records
                # twice, and their count reached the total while the skipped ones were never read.
                if announced is not None and offset < announced and not filter:
                    raise self._ended_early(collection, offset, announced, reply, how="its last page had no Link "
                                            f"to a next page: {reply.shown_url}")
                return
            # A count that is too low and falls on a page boundary ended the listing early: after a full page, one
            # more page tells (a short last page is the end anyway).
            if count is not None and offset >= count:
                if len(records) < widest:
                    return
                past_count = True
            url, url_params = base, {**query, "offset": offset}

    @staticmethod
    def _started_over(collection: str, offset: int, earlier: int, reply) -> BadResponse:
        """A later page beginning where an earlier one did: a server that wraps around past the end of a listing
        instead of sending an empty page. Read on, the same records came back for ever."""
        return BadResponse(f"The SIS's {collection} listing started over: the page at offset {offset:,} begins with "
                           f"the same record as the page at offset {earlier:,} ({reply.shown_url}), so paging cannot "
                           "finish and nothing was changed. Ask the SIS vendor to send an empty page after the last "
                           "record.", url=reply.shown_url)

    @staticmethod
    def _ended_early(collection: str, offset: int, announced: int, reply, how: str = "") -> BadResponse:
        """An empty page (or a Link-paged listing's last page) before the count the SIS announced: read as the end,
        the people after it would count as having left (and, with Archive on, be archived within the guard's
        share)."""
        how = how or f"an empty page at {reply.shown_url}"
        return BadResponse(f"The SIS's {collection} listing ended after {offset:,} of the {announced:,} records its "
                           f"X-Total-Count header announced ({how}), so the roster read "
                           "is incomplete and nothing was changed. Try again later; if it repeats, send this message "
                           "to the SIS vendor's support.", url=reply.shown_url)

    def first_page(self, path: str, *, limit: int = 1) -> list[dict]:
        """Just the first page (used by the connection test to prove read access)."""
        return next(self.iter_pages(path, params={"limit": limit}), [])

    def get_schools(self) -> list[SchoolRecord]:
        """Every school the SIS exposes; records without a sourcedId, and orgs its `schools` listing sends that
        say they are something else (a district, department, local, state or national org), are skipped: shown,
        they were offered as schools to map, and a district's id passed the connection test's "School found"."""
        return self.get_orgs()[0]

    def get_orgs(self) -> tuple[list[SchoolRecord], dict[str, tuple[str, SchoolRecord]]]:
        """(get_schools' schools, the other orgs the `schools` listing sent: lower-cased sourcedId -> (their type,
        the org)), so that a School ID naming the district can be told apart from a mistyped one."""
        schools, others = [], {}
        for page in self.iter_pages("schools"):
            for raw in page:
                kind = str(raw.get("type") or "").strip().lower() if isinstance(raw, dict) else ""
                try:
                    org = normalise_school(raw)
                except BadResponse:
                    continue
                if kind in NOT_SCHOOLS:
                    others[org.source_id.lower()] = (kind, org)
                else:
                    schools.append(org)
        return schools, others

    def get_org(self, source_id: str) -> tuple[str, SchoolRecord] | None:
        """(its lower-cased type, the org) from `orgs/{id}`, or None when the SIS has no such org or will not say:
        a School ID that is the district's org is not in the `schools` listing, so only this tells it apart."""
        try:
            raw = decode_one(self.get(self.url_for(f"orgs/{quote(source_id, safe='')}")), "org")
            return str(raw.get("type") or "").strip().lower(), normalise_school(raw)
        except ConnectorError:
            return None

    def get_user(self, source_id: str) -> dict | None:
        """One user as the SIS holds it now, or None when it has no such user (HTTP 404 or 410).

        GET users/{sourcedId} is OneRoster's getUser (IMS OneRoster Rostering Service REST/JSON Binding 1.2,
        www.imsglobal.org/sites/default/files/spec/oneroster/v1p2/rostering-restbinding/
        OneRosterv1p2RosteringService_RESTBindv1p0.html; 1.1 has the same path). The {"user": {...}} envelope and
        404 for an unknown id are what the sandbox serves; no page seen here confirms them word for word. A 404
        saying the endpoint is unsupported raises NotFound: it says nothing about the person, and neither does a 404
        sent as a web page (IIS or a proxy answering for a path the SIS's API does not route), which raises too.

        An id of only dots cannot be asked for: "users/.." is a dot segment that requests (urllib3) removes, %2E
        included, so the GET would reach another resource and its 404 would read as a leave."""
        if not source_id.strip("."):
            raise BadResponse(f"The SIS's sourcedId {source_id!r} is only dots, which no URL can ask for one by one "
                              "(users/.. means the folder above). Ask the SIS vendor to give this person a real "
                              "sourcedId.", url=self.url_for("users"))
        try:
            reply = self.get(self.url_for(f"users/{quote(source_id, safe='')}"))
        except NotFound as exc:
            if exc.web_page:
                raise NotFound(f"The SIS answered {exc.url} with a web page (HTTP {exc.status}), not OneRoster, so "
                               "its API does not seem to offer users/{sourcedId}.", status=exc.status,
                               url=exc.url) from None
            if exc.status in (404, 410) and "does not offer" not in exc.message:
                return None
            raise
        return decode_one(reply, "user")

    def iter_roster(self, school_id: str, roles: set[str], *, since: datetime | None = None
                    ) -> Iterator[list[PersonRecord | RecordProblem]]:
        """Pages of the school's people for `roles` (repeats included); see connectors.people."""
        return people.iter_roster(self, school_id, roles, since=since)


def _scope_too_narrow(reply: Reply) -> bool:
    """insufficient_scope in an imsx or OAuth body, or in the WWW-Authenticate header where RFC 6750 3.1 puts it
    (some servers send it with 401 rather than 403): the token is fine, the listing needs a scope it lacks, so the
    sync may fall back to a global listing instead of failing as if the credentials were wrong."""
    challenge = reply.headers.get("WWW-Authenticate", "").lower()
    return mentions(reply.body, "insufficient_scope") or "insufficient_scope" in challenge


def _sourced_id(record) -> str | None:
    return str(record.get("sourcedId")) if isinstance(record, dict) and record.get("sourcedId") else None


# Answers past the announced count that mean "nothing here": the count was the end. (RFC 9110: 400 bad request, 404
# not found, 410 gone, 416 range not satisfiable, 422 content not processable.)
PAST_THE_END = frozenset({400, 404, 410, 416, 422})


def _link_goes_back(url: str, offset: int) -> bool:
    """The SIS's Link next names an offset before the records read so far (or names none, a cursor we cannot
    judge): a repeated page is then the link's fault; one naming the right offset is a server ignoring it."""
    named = parse_qs(urlsplit(url).query).get("offset")
    try:
        return not named or int(named[0]) < offset
    except ValueError:
        return True


def _repeat_is_the_whole(ids: list, previous: list, offset: int, limit: int, announced: int | None, promised: bool,
                         collection: str, reply, by_link: bool = False) -> None:
    """A page that starts as the last one did is the whole collection again only when it is that page exactly,
    shorter than the limit, and the SIS promised nothing more (no larger X-Total-Count, no Link next); otherwise
    raises: stopping would count everyone past the first page as having left, and reading on would loop.
    `by_link`: the page came from the SIS's own Link next, so the fault is that link, not offset."""
    shown = reply.shown_url
    if by_link:
        raise BadResponse(f"The SIS's Link header for the next page of {collection} points back to the page just "
                          f"read ({shown}), so paging cannot finish and nothing was changed. Send this message to the "
                          "SIS vendor's support: its next links must move on through the listing.", url=shown)
    if ids != previous or (len(ids) >= limit and announced is None and not promised):
        raise BadResponse(f"The SIS sent the same page twice at offset {offset} ({shown}); it seems to ignore the "
                          "offset parameter, so paging cannot finish.", url=shown)
    if announced is not None and len(ids) < announced:
        more = f"its X-Total-Count header announced {announced:,}"
    elif promised:
        more = "its Link header said another page follows"
    else:
        return
    raise BadResponse(f"The SIS sent the same {len(ids):,} {collection} records again for the next page although "
                      f"{more} ({shown}): it seems to ignore the offset parameter, so the rest cannot be read and "
                      "nothing was changed. Ask the SIS vendor to honour offset on this listing.", url=shown)
