"""Which endpoints hold a school's people, and which records there belong to the request."""
from collections.abc import Iterator
from datetime import datetime, timezone
from urllib.parse import quote

from .errors import BadResponse
from .records import ROLES, PersonRecord, RecordProblem, excerpt, map_role, normalise_user, raw_role

SCHOOL_CHECKED = {"staff", "school_admin"}


def since_filter(since: datetime | None) -> str | None:
    """OneRoster delta filter, e.g. dateLastModified>'2026-01-01T00:00:00Z' (naive means UTC)."""
    if since is None:
        return None
    if since.tzinfo is None:
        since = since.replace(tzinfo=timezone.utc)
    return f"dateLastModified>'{since.astimezone(timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')}'"


def listings_for(school_id: str, roles: set[str]) -> list[tuple[str, frozenset[str]]]:
    """(path, roles wanted from it): school-scoped students/teachers, global users for the rest."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"Unknown roles {sorted(unknown)}; expected some of {ROLES}")
    sid = quote(school_id, safe="")
    steps = []
    if "student" in roles:
        steps.append((f"schools/{sid}/students", frozenset({"student"})))
    if "teacher" in roles:
        steps.append((f"schools/{sid}/teachers", frozenset({"teacher"})))
    rest = frozenset(roles) & {"staff", "school_admin", "parent"}
    if rest:
        steps.append(("users", rest))
    return steps


def _in_school(org_ids, school_id: str) -> bool:
    wanted = school_id.lower()
    return any(o.lower() == wanted for o in org_ids)


def _raw_orgs(raw: dict) -> list[str]:
    orgs = raw.get("orgs")
    orgs = orgs if isinstance(orgs, list) else []
    return [str(o.get("sourcedId", "")) if isinstance(o, dict) else str(o) for o in orgs]


def _problem_is_ours(raw, wanted: frozenset[str], school_id: str, scoped: bool) -> bool:
    """Report a broken record only if it plausibly belongs to this school and these roles."""
    if scoped or not isinstance(raw, dict):
        return True
    role = map_role(raw_role(raw))
    if role is None or role in SCHOOL_CHECKED:
        return (role is None or role in wanted) and _in_school(_raw_orgs(raw), school_id)
    return role in wanted


def iter_roster(client, school_id: str, roles: set[str], *, since: datetime | None = None
                ) -> Iterator[list[PersonRecord | RecordProblem]]:
    """Pages of this school's people for `roles`; bad records become problems.

    A sourcedId the SIS sends again (even on a later page) is passed on, not dropped, so the engine
    can report the duplicate; a broken record is reported once.
    """
    seen: set[str] = set()
    flt = since_filter(since)
    for path, wanted in listings_for(school_id, roles):
        scoped = path != "users"
        for page in client.iter_pages(path, filter=flt):
            out: list[PersonRecord | RecordProblem] = []
            for raw in page:
                try:
                    person = normalise_user(raw)
                except BadResponse as exc:
                    if not _problem_is_ours(raw, wanted, school_id, scoped):
                        continue
                    sid = str(raw.get("sourcedId") or "").strip() if isinstance(raw, dict) else ""
                    if sid and sid in seen:
                        continue
                    if sid:
                        seen.add(sid)
                    out.append(RecordProblem(sid, exc.message, excerpt(raw)))
                    continue
                if person.role not in wanted:
                    continue
                if not scoped and person.role in SCHOOL_CHECKED and not _in_school(person.school_ids, school_id):
                    continue
                seen.add(person.source_id)
                out.append(person)
            yield out
