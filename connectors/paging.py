"""Envelope keys and stop rules for OneRoster collection paging."""
import json
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit, urlunsplit

from .errors import BadResponse, NotFound
from .imsx import describe_body, html_title, load_json, looks_like_html, mentions, status_info
from .transport import Reply

ENVELOPES = {
    "users": ("users", "students", "teachers"),
    "students": ("users", "students"),
    "teachers": ("users", "teachers"),
    "orgs": ("orgs", "schools"),
    "schools": ("orgs", "schools"),
    "academicSessions": ("academicSessions", "terms", "gradingPeriods"),
    "terms": ("academicSessions", "terms"),
    "gradingPeriods": ("academicSessions", "gradingPeriods"),
}
AREAS = {"orgs": "schools", "academicSessions": "terms", "gradingPeriods": "terms"}


def collection_of(path: str) -> str:
    """The collection a path lists, e.g. schools/5/teachers -> teachers."""
    return path.strip("/").split("?")[0].split("/")[-1]


def area_of(path: str) -> str:
    """The permission area a path belongs to (students, teachers, users, schools, terms...)."""
    collection = collection_of(path)
    return AREAS.get(collection, collection)


def decode_page(reply: Reply, collection: str) -> list:
    """The record list of one page; BadResponse for HTML, bad JSON or a wrong envelope."""
    return _records(reply, _payload(reply), collection)


def _payload(reply: Reply):
    """The reply's JSON; BadResponse for a web page, text that is not UTF-8, or malformed JSON."""
    shown = reply.shown_url
    if looks_like_html(reply.body):
        raise BadResponse(f'The SIS returned a web page ("{html_title(reply.body)}") instead of OneRoster '
                          f"data (HTTP {reply.status} from {shown}). Check that the URL points at the "
                          "OneRoster API.", status=reply.status, url=shown)
    try:
        payload = load_json(reply.body, reply.headers.get("Content-Type", ""))
    except UnicodeDecodeError as exc:
        raise BadResponse(f"The SIS sent text that is not UTF-8 (HTTP {reply.status} from {shown}: byte "
                          f"0x{exc.object[exc.start]:02X} at position {exc.start:,}) and its Content-Type names no "
                          "other character set, so names in it cannot be read. Ask the SIS vendor to send UTF-8, "
                          "as JSON requires.", status=reply.status, url=shown) from None
    except ValueError as exc:
        cut = isinstance(exc, json.JSONDecodeError) and exc.pos >= len(exc.doc.rstrip()) - 1
        kind = "incomplete" if cut else "malformed"
        raise BadResponse(f"The SIS sent {kind} JSON (HTTP {reply.status} from {shown}, {len(reply.body)} "
                          "bytes). Try again; if it persists, ask the SIS vendor to check this endpoint.",
                          status=reply.status, url=shown) from None
    return payload


def decode_one(reply: Reply, key: str) -> dict:
    """The one record of a single-record reply ({"user": {...}}); BadResponse as decode_page's."""
    payload = _payload(reply)
    record = payload.get(key) if isinstance(payload, dict) else None
    if isinstance(record, dict):
        return record
    raise BadResponse(f"The SIS answered {reply.shown_url} without a '{key}' record; this does not look like "
                      "OneRoster. Check the URL.", url=reply.shown_url)


def _records(reply: Reply, payload, collection: str) -> list:
    shown = reply.shown_url
    keys = ENVELOPES.get(collection, (collection,))
    if isinstance(payload, dict):
        for key in keys:
            if key in payload:
                records = payload[key]
                if isinstance(records, list):
                    return records
                raise BadResponse(f"The SIS's '{key}' in {shown} is not a list of records.", url=shown)
        info = status_info(payload)
        if mentions(reply.body, "unsupported"):
            raise NotFound(f"The SIS does not offer {shown}. {describe_body(reply.body)}", status=reply.status,
                           url=shown)
        if info:
            said = describe_body(reply.body)
            raise BadResponse(f"The SIS answered {shown} with an error instead of data. {said}", url=shown)
        found = ", ".join(sorted(map(str, payload))[:5]) or "nothing"
    else:
        found = f"a JSON {type(payload).__name__}"
    expected = " or ".join(f"'{k}'" for k in keys)
    raise BadResponse(f"The SIS answered {shown} with {found} instead of a {expected} list; this does not "
                      "look like OneRoster 1.1. Check the URL.", url=shown)


def total_count(reply: Reply) -> int | None:
    """X-Total-Count as an int, None when absent or unreadable."""
    value = reply.headers.get("X-Total-Count", "").strip()
    # isdigit() alone accepts "²"; the length cap keeps int() within Python's digit limit.
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 18 else None


def next_link(reply: Reply, base: str) -> str | None:
    """The absolute rel="next" URL when it stays on the SIS's origin; None when absent, elsewhere or unreadable."""
    target = reply.links().get("next")
    if not target:
        return None
    try:
        target = urljoin(reply.url, target)
        return _without_oauth1(target) if same_origin(target, base) else None
    except ValueError:  # e.g. "<http://[::1>": urllib refuses it; paging goes on by offset as without a Link
        return None


def _without_oauth1(url: str) -> str:
    """The URL without oauth_* parameters: a server that builds its next link from the request's own query echoes a
    query-signed request's nonce and signature, and sent on beside fresh ones they made every later page a 401
    ("The SIS refused our signed requests"). The signer adds each request's own."""
    parts = urlsplit(url)
    if "oauth_" not in parts.query:
        return url
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not k.startswith("oauth_")]
    return urlunsplit(parts._replace(query=urlencode(kept, quote_via=quote)))


def same_origin(url: str, other: str) -> bool:
    """Only follow Link headers to the SIS we were configured for (tokens must not leak)."""
    a, b = urlsplit(url), urlsplit(other)
    return (a.scheme.lower(), a.netloc.lower()) == (b.scheme.lower(), b.netloc.lower())
