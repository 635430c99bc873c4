"""Which endpoints hold a school's people, and which records there belong to the request."""
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from itertools import chain
from typing import NamedTuple
from urllib.parse import quote

from .errors import BadResponse, ConnectorError, NotFound, PermissionDenied
from .records import (ROLES, PersonRecord, RecordProblem, RosterNotice, at_school, excerpt, map_role,
                      normalise_user, org_ids, raw_role, role_unknown_at, unknown_role_here)

WHO = {"student": "Students", "teacher": "Teachers"}
# A sourcedId of RFC 3986's unreserved characters (not only dots) goes into users/{id} as it is; any other must be
# percent-encoded, which servers and proxies often decode wrongly, so a 404 for it says nothing sure (look_up).
PLAIN_ID = re.compile(r"(?=.*[A-Za-z0-9])[A-Za-z0-9_.~-]{1,200}")
FUTURE_SLACK = timedelta(days=1)  # a SIS clock a little ahead is normal; a date days ahead is not


@dataclass(frozen=True)
class Step:
    """One group of roles and the listings that may hold them, best first (later ones are fallbacks)."""

    roles: frozenset[str]
    paths: tuple[str, ...]


@dataclass
class Listing:
    """The listing a step ended up reading, its first page, and why earlier ones were passed over."""

    path: str
    first: list | None
    rest: Iterator[list]
    passed_over: list[tuple[str, str]]
    unfiltered: str = ""  # why the delta filter was dropped (the SIS refused it), "" when it was sent

    @property
    def scoped(self) -> bool:
        return self.path.startswith("schools/")

    def pages(self) -> Iterator[list]:
        return chain([self.first] if self.first is not None else [], self.rest)


def since_filter(since: datetime | None) -> str | None:
    """OneRoster delta filter, e.g. dateLastModified>'2026-01-01T00:00:00Z' (naive means UTC)."""
    if since is None:
        return None
    if since.tzinfo is None:
        since = since.replace(tzinfo=timezone.utc)
    return f"dateLastModified>'{since.astimezone(timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')}'"


def listings_for(school_id: str, roles: set[str]) -> list[Step]:
    """Students and teachers from the school's own listing, else the global one, else `users`;
    staff, admins and parents from the global `users`."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"Unknown roles {sorted(unknown)}; expected some of {ROLES}")
    sid = quote(school_id, safe="")
    steps = []
    for role, collection in (("student", "students"), ("teacher", "teachers")):
        if role in roles:
            steps.append(Step(frozenset({role}), (f"schools/{sid}/{collection}", collection, "users")))
    rest = frozenset(roles) & {"staff", "school_admin", "parent"}
    if rest:
        steps.append(Step(rest, ("users",)))
    return steps


def refusal(exc: Exception) -> str:
    """Why a listing was passed over, or "" when the error is not a refusal of the listing itself."""
    if isinstance(exc, PermissionDenied):
        return f"was refused (HTTP {exc.status or 403})"
    if isinstance(exc, NotFound):
        return f"is not offered by this SIS (HTTP {exc.status or 404})"
    return ""


def open_listing(client, step: Step, *, filter: str | None = None, params: dict | None = None) -> Listing:
    """The first of the step's listings that the SIS serves; raises the first refusal when none does.

    Only a refusal of the first page moves on: a listing that fails half-way is an incomplete fetch.
    """
    passed_over: list[tuple[str, str]] = []
    first_error = None
    for path in step.paths:
        if path.startswith("schools/") and client.tokens and not client.tokens.grants(client.settings.roster_scope):
            passed_over.append((path, "needs roster.readonly, which the token does not grant"))
            continue
        try:
            first, pages, unfiltered = _first_page(client, path, filter, params)
        except (PermissionDenied, NotFound) as exc:
            first_error = first_error or exc
            passed_over.append((path, refusal(exc)))
            continue
        return Listing(path, first, pages, passed_over, unfiltered)
    if first_error is None:  # every school listing was skipped and no global one is planned
        raise PermissionDenied("The SIS's token does not grant roster.readonly, which this listing needs.")
    raise first_error


def _first_page(client, path: str, filter: str | None, params: dict | None):
    """(first page, the pages after it, why the filter was dropped or ""). A SIS that refuses the delta filter
    itself (HTTP 400 or 422 on a filtered first page; not every server implements OneRoster's filter) is read
    without it: more records, the same outcome, since a delta archives nobody for being absent. Without this
    every nightly delta failed until the weekly full sync."""
    pages = client.iter_pages(path, filter=filter, params=params)
    try:
        return next(pages, None), pages, ""
    except (BadResponse, NotFound) as exc:
        if not filter or exc.status not in (400, 422):
            raise
        refused = exc
    pages = client.iter_pages(path, params=params)
    return next(pages, None), pages, f"HTTP {refused.status} on {path} with filter={filter}"


def unfiltered_notice(step: Step, listing: Listing) -> RosterNotice:
    return read_in_full(step.roles, listing.path, listing.unfiltered)


def read_in_full(roles, path: str, why: str) -> RosterNotice:
    """The run's notice that `path` was read without the delta filter (`why`: the SIS's refusal)."""
    who = WHO.get(next(iter(roles)), "People") if len(roles) == 1 else "People"
    return RosterNotice("listing", f"{who} were all read from the SIS's {path} listing, not only those "
                                   f"changed since the last sync, because the SIS refused the delta filter "
                                   f"({why}). Nobody was left out; as in any delta sync, nobody was "
                                   "archived for being absent.")


def fallback_notice(step: Step, listing: Listing) -> RosterNotice:
    who = WHO.get(next(iter(step.roles)), "People")
    why = "; ".join(f"{path} {reason}" for path, reason in listing.passed_over)
    return RosterNotice("listing", f"{who} were read from the SIS's {listing.path} listing, filtered to this "
                                   f"school's people, because {why}.")


def in_school(org_ids, school_id: str) -> bool:
    wanted = school_id.lower()
    return any(o.lower() == wanted for o in org_ids)


class SchoolIds:
    """Which orgs are the SIS's other schools: its `schools` listing, read once, and only when a record names an org
    that is not this school. A person whose orgs name only the district (an itinerant teacher, a SIS that puts the
    district in `orgs`) is not of another school; read as one, a correct school listing lost them, or a whole school
    failed over to a global listing where nobody was found."""

    def __init__(self, client, schools=None):
        """`schools`: the SIS's schools when the caller has read them already (Test connection), so not read again."""
        self.client = client
        self._ids = None if schools is None else frozenset(school.source_id.lower() for school in schools)

    def elsewhere(self, orgs, school_id: str) -> bool:
        """The orgs leave out this school and name another of the SIS's schools (any org at all, when the SIS's
        schools cannot be read: then the district cannot be told from a school)."""
        if in_school(orgs, school_id):
            return False
        if self._ids is None:
            try:
                self._ids = frozenset(school.source_id.lower() for school in self.client.get_schools())
            except ConnectorError:
                self._ids = frozenset()
        return not self._ids or any(o.lower() in self._ids for o in orgs)


def split_strays(page: list, school_id: str, schools: SchoolIds) -> tuple[list, int]:
    """A school-scoped page without its strays (records whose orgs name only other schools: a SIS that ignores
    the scope sends the district's people), and how many there were. A record naming no org, or no school but its
    district, is left in: the listing's scope is all that says where it belongs. Parents are the students'
    contacts, not the school's."""
    kept, strays = [], 0
    for raw in page:
        if isinstance(raw, dict) and map_role(raw_role(raw)) != "parent":
            orgs = org_ids(raw)
            if orgs and schools.elsewhere(orgs, school_id):
                strays += 1
                continue
        kept.append(raw)
    return kept, strays


def open_for_school(client, step: Step, school_id: str, schools: SchoolIds, *, filter: str | None = None,
                    params: dict | None = None) -> Listing:
    """open_listing, passing over a school-scoped listing whose first page is half strays or more: that SIS ignores
    the scope, so the next listing (global, filtered by org: always right, only longer) is read instead."""
    listing = open_listing(client, step, filter=filter, params=params)
    if not listing.scoped or not listing.first:
        return listing
    _, strays = split_strays(listing.first, school_id, schools)
    if strays * 2 < len(listing.first):
        return listing
    rest = step.paths[step.paths.index(listing.path) + 1:]
    why = (f"returned people of other schools for this school's listing ({strays} of the first "
           f"{len(listing.first)} records)")
    fallback = open_listing(client, Step(step.roles, rest), filter=filter, params=params)
    fallback.passed_over[:0] = listing.passed_over + [(listing.path, why)]
    return fallback


def strays_notice(step: Step, listing: Listing, strays: int) -> RosterNotice:
    who = WHO.get(next(iter(step.roles)), "People").lower()
    many = strays != 1
    return RosterNotice("strays", f"{strays} {'people' if many else 'person'} in the SIS's {listing.path} listing "
                                  f"{'were' if many else 'was'} not of this school (their orgs name only other "
                                  f"schools), so {'they were' if many else 'it was'} left out: the SIS returned "
                                  f"people of other schools for this school's {who}. Ask the SIS vendor why that "
                                  "listing includes them.")


def _scope_ignored_later(step: Step, listing: Listing, page_number: int, strays: int, size: int) -> BadResponse:
    return BadResponse(
        f"Page {page_number} of the SIS's {listing.path} listing was mostly people of other schools ({strays} of "
        f"{size} records), though its first page was this school's: the SIS does not keep to the school in that "
        "listing, so the roster it sends cannot be trusted whole and the sync stopped. Ask the SIS "
        "vendor to fix the school's listing, or give a client that may read only the global listings.",
        url=listing.path)


def _problem_is_ours(raw, wanted: frozenset[str], school_id: str, scoped: bool) -> bool:
    """Report a broken record only if it plausibly belongs to this school and these roles."""
    if scoped or not isinstance(raw, dict):
        return True
    role = map_role(raw_role(raw))
    if role == "parent":
        return role in wanted
    return (role is None or role in wanted) and in_school(org_ids(raw), school_id)


def iter_roster(client, school_id: str, roles: set[str], *, since: datetime | None = None
                ) -> Iterator[list[PersonRecord | RecordProblem | RosterNotice]]:
    """Pages of this school's people for `roles`; bad records become problems, fallbacks notices.

    A sourcedId the SIS sends again (even on a later page) is passed on, not dropped, so the engine
    can report the duplicate; a broken record is reported once. People from a global listing count
    only when their orgs include the school (parents, who have no school, excepted).
    """
    seen: set[str] = set()
    flt = since_filter(since)
    steps = listings_for(school_id, roles)
    client.authenticate()  # the token says which scopes were granted before any listing is chosen
    # Dates after the read's start (an offset-less local time east of UTC read as UTC, a fast SIS clock) count as
    # this instant, so the next delta mark (the latest date, less the overlap) never passes our own clock: dated
    # at each listing's start, a read of more than an hour could skip changes made during its first listings.
    started = datetime.now(timezone.utc)
    schools = SchoolIds(client)
    for step in steps:
        listing = open_for_school(client, step, school_id, schools, filter=flt)
        if listing.passed_over:
            yield [fallback_notice(step, listing)]
        if listing.unfiltered:
            yield [unfiltered_notice(step, listing)]
        listed = kept = strays = 0
        dates = DateCheck(started)
        for number, page in enumerate(listing.pages(), start=1):
            if listing.scoped:
                size = len(page)
                page, left_out = split_strays(page, school_id, schools)
                if left_out * 2 > size:  # a later page mostly others': its paging cannot be trusted either
                    raise _scope_ignored_later(step, listing, number, left_out, size)
                strays += left_out
            out = school_page(page, step.roles, school_id, scoped=listing.scoped, seen=seen, dates=dates)
            listed, kept = listed + len(page), kept + len(out)
            yield out
        if strays:
            yield [strays_notice(step, listing, strays)]
        if dates.count:
            yield [dates.notice(listing.path)]
        if listing.passed_over and flt is None and listed and not kept:
            # A fallback that finds nobody is a wrong School ID or a listing without this role, not an empty
            # school: stopping keeps Archive from removing everyone of the role.
            who = WHO.get(next(iter(step.roles)), "People").lower()
            raise NotFound(f"None of the {listed} people in the SIS's {listing.path} listing are {who} of school "
                           f"{school_id}, so the sync stopped instead of treating all of this school's {who} as "
                           f"gone. Check the School ID, and that this client may read {who}.", url=listing.path)


def unknown_role_problem(person: PersonRecord, school_id: str, seen: set[str]) -> RecordProblem | None:
    """This school's issue for a person whose role here is one the portal does not map (once per read), None when
    they simply hold no role in effect here. Their other schools sync them with the role they hold there."""
    sis_role = role_unknown_at(person, school_id)
    if not sis_role or person.source_id in seen:
        return None
    seen.add(person.source_id)
    return RecordProblem(person.source_id, unknown_role_here(person, sis_role), "")


def school_page(page: list, roles: frozenset[str], school_id: str, *, scoped: bool, seen: set[str],
                dates: "DateCheck") -> list[PersonRecord | RecordProblem]:
    """The school's people (and broken records that may be theirs) of one page of raw records.

    `seen` and `dates` span one read of the roster, so a broken record is reported once; a district night
    feeds its spooled records through here too, and each school gets what its own read would have kept.
    """
    out: list[PersonRecord | RecordProblem] = []
    for raw in page:
        if isinstance(raw, Normalised):  # normalised once by a district night's read for all its schools
            item, raw = _keep(raw.person, roles, school_id, scoped, seen), {"dateLastModified": raw.date_given}
        else:
            item = _person_or_problem(raw, roles, school_id, scoped, seen)
        if item is not None:
            out.append(dates.check(item, raw) if isinstance(item, PersonRecord) else item)
    return out


class Normalised(NamedTuple):
    """A user record already normalised, with the dateLastModified it came with (DateCheck reads it)."""

    person: PersonRecord
    date_given: object


class DateCheck:
    """Keeps unreadable or far-future dateLastModified values out of the delta mark, and counts them.

    Such a person is still synced, dated at the listing's start time: a later delta then starts no later
    than this run, so nothing changed since is missed, and the run says so instead of leaving a silent gap.
    """

    def __init__(self, started: datetime):
        self.started = started
        self.count, self.example = 0, ""

    def check(self, person: PersonRecord, raw: dict) -> PersonRecord:
        return self.check_given(person, raw.get("dateLastModified") if isinstance(raw, dict) else None)

    def check_given(self, person: PersonRecord, given) -> PersonRecord:
        """check() with the record's raw dateLastModified already taken out (the district spool keeps it)."""
        modified = person.date_last_modified
        unreadable = modified is None and given not in (None, "")
        if not unreadable and (modified is None or modified <= self.started):
            return person
        if unreadable or modified > self.started + FUTURE_SLACK:
            self.count += 1
            self.example = self.example or f"'{excerpt(given, 40).strip(chr(34))}' on {person.source_id}"
        return person._replace(date_last_modified=self.started)

    def notice(self, path: str) -> RosterNotice:
        many = self.count != 1
        return RosterNotice("unreadable_date", (
            f"{self.count} record{'s' if many else ''} in {path} had a dateLastModified the portal could not use "
            f"(such as {self.example}); {'they were' if many else 'it was'} synced, and the next delta sync "
            "starts from this run's start time for them. Ask the SIS vendor to send ISO 8601 dates."))


def _person_or_problem(raw, wanted: frozenset[str], school_id: str, scoped: bool, seen: set[str]):
    try:
        person = normalise_user(raw)
    except BadResponse as exc:
        if not _problem_is_ours(raw, wanted, school_id, scoped):
            return None
        sid = str(raw.get("sourcedId") or "").strip() if isinstance(raw, dict) else ""
        if sid and sid in seen:
            return None
        if sid:
            seen.add(sid)
        return RecordProblem(sid, exc.message, excerpt(raw))
    return _keep(person, wanted, school_id, scoped, seen)


def _keep(person: PersonRecord, wanted: frozenset[str], school_id: str, scoped: bool, seen: set[str]):
    if person.org_roles:  # 1.2 roles that differ by org: this school gets the role held at this org
        here = at_school(person, school_id)
        if here is None:
            return unknown_role_problem(person, school_id, seen)
        person = here
    if person.role not in wanted:
        return None
    if not scoped and person.role != "parent" and not in_school(person.school_ids, school_id):
        return None
    seen.add(person.source_id)
    return person


def look_up(client, source_id: str, school_id: str, roles: frozenset[str], schools: SchoolIds, *,
            trust_404: bool = True) -> list[PersonRecord | RecordProblem]:
    """The person as the SIS's own record of them says now, if they are still of this school in these roles; []
    when the SIS no longer has them (HTTP 404 or 410), or has them at another school or in another role. Other
    failures raise (ConnectorError): the caller must not read them as a leave, nor a 404 when not `trust_404`."""
    raw = client.get_user(source_id)
    if raw is None:
        if not trust_404:
            shown = client.url_for(f"users/{quote(source_id, safe='')}")
            raise BadResponse(f"The SIS said it has no user {source_id} ({shown}), but that sourcedId has characters "
                              "a URL must encode, which servers and proxies often decode wrongly, so the answer "
                              "cannot be believed. Archive this person by hand if they left.", url=shown)
        return []
    _check_answer(raw, source_id, school_id, schools, client.url_for(f"users/{quote(source_id, safe='')}"))
    return school_page([raw], roles, school_id, scoped=False, seen=set(), dates=DateCheck(datetime.now(timezone.utc)))


def _check_answer(raw: dict, source_id: str, school_id: str, schools: SchoolIds, shown: str) -> None:
    """Refuse (BadResponse) a look-up answer that cannot say whether the person left: the record of someone else (a
    SIS that ignores the id and sends, say, its first user), or a record naming no org at all (a slim record: no
    org is not another school's) or no school but its district. Each would otherwise count as a confirmed leave and
    archive the person."""
    given = str(raw.get("sourcedId") or "").strip()
    if given != source_id:
        # the other id is not named: it may be a person of another school of the district
        raise BadResponse(f"The SIS answered the look-up of {source_id} ({shown}) with "
                          f"{'the record of someone else' if given else 'a record without a sourcedId'}. Ask the SIS "
                          "vendor why users/{sourcedId} does not return the person asked for.", url=shown)
    if map_role(raw_role(raw)) == "parent":
        return
    orgs = org_ids(raw)
    if not orgs:
        raise BadResponse(f"The SIS's record of {source_id} ({shown}) names no school (no orgs), so it cannot say "
                          "whether they left. Ask the SIS vendor to include orgs in users/{sourcedId}.", url=shown)
    if not in_school(orgs, school_id) and not schools.elsewhere(orgs, school_id):
        raise BadResponse(f"The SIS's record of {source_id} ({shown}) names none of its schools (only "
                          f"{', '.join(orgs[:3])}), so it cannot say whether they left this school. Nothing needs "
                          "doing unless it happens every night.", url=shown)
