"""Collections, filters and field selection for sandbox data requests."""
import re

from ..records import parse_datetime
from .data import Dataset, json_bytes

_PREDICATE = re.compile(r"^\s*(\w+)\s*(>=|<=|!=|=|>|<|~)\s*'(.*)'\s*$")


class BadQuery(ValueError):
    """An invalid filter/limit/offset; answered with HTTP 400 and an imsx body."""

    def __init__(self, message: str, minor: str = "invalid_selection_field"):
        super().__init__(message)
        self.minor = minor


def parse_filter(text: str):
    """A predicate over raw records for `field op 'value'` joined by AND (OR is refused)."""
    if not text:
        return None
    if " OR " in text:
        raise BadQuery("OR filters are not supported by this provider", "unsupported_filter")
    tests = []
    for part in text.split(" AND "):
        match = _PREDICATE.match(part)
        if not match:
            raise BadQuery(f"Cannot parse filter '{part}'", "invalid_filter_field")
        tests.append(match.groups())

    def keep(record: dict) -> bool:
        for field, op, value in tests:
            have = record.get(field)
            if isinstance(have, (list, dict)) or (have is None and field not in record):
                raise BadQuery(f"Cannot filter on '{field}'", "invalid_filter_field")
            left, right = str(have), value
            if field == "dateLastModified":
                left, right = parse_datetime(have), parse_datetime(value)
                if right is None:
                    raise BadQuery(f"Bad date '{value}' in filter", "invalid_filter_field")
                if left is None:  # a record whose own date is unreadable matches no date filter
                    return False
            ok = {"=": left == right, "!=": left != right, ">": left > right, ">=": left >= right,
                  "<": left < right, "<=": left <= right, "~": str(right).lower() in str(left).lower()}[op]
            if not ok:
                return False
        return True

    return keep


def select(data: Dataset, kind: str, school: str | None, flt, fields: list[str], version: str = "1.1"
           ) -> tuple[list, bool]:
    """(items, pre-serialised): user ids for people listings, dicts for everything else."""
    if kind in ("users", "students", "teachers"):
        ids = data.user_ids(kind, school, version)
        if flt is None and not fields:
            return ids, True
        with data.lock:
            served = [data.served_as(sid, version) for sid in ids if sid in data.users]
        return [r for r in served if flt is None or flt(r)], False
    items = {"orgs": data.orgs, "schools": [o for o in data.orgs if o["type"] == "school"],
             "academicSessions": data.terms, "terms": [t for t in data.terms if t["type"] != "schoolYear"],
             "courses": data.courses, "classes": data.classes, "enrollments": data.enrollments}[kind]
    if school is not None:
        key = {"courses": "org", "classes": "school", "enrollments": "school"}.get(kind)
        items = [i for i in items if key is None or i[key]["sourcedId"] == school]
    return sorted((i for i in items if flt is None or flt(i)), key=lambda i: i["sourcedId"]), False


def render(data: Dataset, envelope: str, items: list, serialised: bool, fields: list[str], version: str = "1.1"
           ) -> bytes:
    """The page body; people come from the per-record JSON cache."""
    if serialised:
        parts = [data.record_bytes(sid, version) for sid in items]
    else:
        chosen = [{k: v for k, v in i.items() if k in fields} if fields else i for i in items]
        parts = [json_bytes(i) for i in chosen]
    return b'{"' + envelope.encode() + b'":[' + b",".join(parts) + b"]}"
