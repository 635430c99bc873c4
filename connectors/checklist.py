"""Test connection: a checklist of what the sync uses (token, school, each people listing with its fallbacks),
the vendor's other permission areas as optional rows, finished within a deadline."""
import threading
import time
from dataclasses import dataclass

from . import people
from .client import OneRosterClient
from .errors import AuthenticationFailed, ConnectorError, PermissionDenied, ScopeRefused
from .netguard import OutboundPolicy
from .profiles import PROFILES
from .records import NOT_SCHOOLS
from .redact import Redactor
from .settings import ConnectionSettings

REQUEST_TIMEOUT = (3.0, 8.0)
SCHOOL_LIST_LIMIT = 30
SAMPLE = 20  # records read from each people listing: enough to see a school listing that ignores its school


PEOPLE_AREAS = ("students", "teachers", "users")  # what the people sync reads (users: staff, admins, parents)
OPTIONAL_AREAS = ("terms", "courses", "classes", "enrollments")  # other permission areas: shown, never failing
WHO = {"students": "students", "teachers": "teachers", "users": "staff, administrators and parents"}
SCOPE_FIX = ("Ask the district's SIS administrator to grant this client the OneRoster scope roster-core.readonly "
             "(and roster.readonly for the school's own listings).")


@dataclass(frozen=True)
class CheckRow:
    """One checklist line: status is ok, denied, failed or skipped; fix says what to do.

    An optional row shows a permission area the people sync does not read; it never fails the test.
    """

    key: str
    label: str
    status: str
    detail: str
    fix: str
    optional: bool = False

    @property
    def fails(self) -> bool:
        """True for a real failure: a required check that was denied or failed (not skipped)."""
        return not self.optional and self.status in ("denied", "failed")


def headline(rows: list[CheckRow]) -> str:
    """The checklist's title; counts only real failures (not skipped rows, not optional ones)."""
    failed = sum(r.fails for r in rows)
    if failed:
        return f"{failed} check{'s' if failed != 1 else ''} failed."
    if all(r.status == "ok" for r in rows):
        return "Connection works: every check passed."
    return "Connection works: every check the sync needs passed."


def _school_sort_key(school_id: str):
    return (0, int(school_id), "") if school_id.isdigit() else (1, 0, school_id.lower())


def _not_a_school(other, schools) -> str | None:
    """What to say when the School ID is an org of the SIS that is not a school (the district's own org, say): as the
    school, it would bring every user of the district."""
    if other is None:
        return None
    kind, org = other
    return (f"The School ID {org.source_id} is {org.name or 'an org'} in this SIS, an org of type {kind}, not a "
            f"school. Enter the ID of the school itself; this SIS's schools are: {_listed(schools) or 'none'}.")


def _other_org(client, wanted: str):
    """(type, org) when the SIS has an org `wanted` that is not a school; None otherwise or when it will not say."""
    found = client.get_org(wanted) if wanted.strip() else None
    return found if found is not None and found[0] in NOT_SCHOOLS else None


def _listed(schools) -> str:
    """The schools' ids in order, the first SCHOOL_LIST_LIMIT of them."""
    ids = sorted({s.source_id for s in schools}, key=_school_sort_key)
    return ", ".join(ids[:SCHOOL_LIST_LIMIT]) + (f" and {len(ids) - SCHOOL_LIST_LIMIT} more"
                                                 if len(ids) > SCHOOL_LIST_LIMIT else "")


def _named_otherwise(schools, wanted: str) -> str | None:
    """What to say when the School ID typed is one school's identifier (a school number) or name instead of its
    sourcedId, which people's records name and the sync matches by; None when it is neither."""
    typed = wanted.strip().casefold()
    for what in ("identifier", "name"):
        found = [s for s in schools if typed and getattr(s, what).strip().casefold() == typed]
        if len(found) == 1:
            school = found[0]
            whose = f"the identifier of {school.name}" if what == "identifier" and school.name else f"a school's {what}"
            return (f"The School ID {wanted} is {whose} in this SIS, not its sourcedId, which people's records name: "
                    f"enter {school.source_id} as the School ID.")
    return None


class _Checklist:
    """Runs the checks in order, appending rows; a deadline may cut it short."""

    def __init__(self, settings: ConnectionSettings, deadline: float, policy: OutboundPolicy | None = None):
        self.settings = settings
        self.policy = policy
        self.profile = PROFILES.get(settings.vendor, PROFILES["oneroster"])
        self.deadline = deadline
        self.rows: list[CheckRow] = []
        self.lock = threading.Lock()
        self.labels = self._labels()
        self.redactor = Redactor(settings.client_secret, settings.client_id)  # the client adds its tokens
        self._schools: people.SchoolIds | None = None

    def schools(self, client) -> people.SchoolIds:
        """One SchoolIds for the listings (it reads `schools` at most once, and only if a record names another org)."""
        if self._schools is None:
            self._schools = people.SchoolIds(client)
        return self._schools

    def _labels(self) -> dict[str, str]:
        token = "Token obtained" if self.settings.auth_mode == "oauth2" else "Signed requests accepted"
        labels = {"token": token, "school": "School found"}
        for area in PEOPLE_AREAS:
            labels[f"read:{area}"] = f"Read access: {self._area_name(area, WHO[area])}"
        for area in OPTIONAL_AREAS:
            labels[f"read:{area}"] = f"Optional: {self._area_name(area, area)}"
        return labels

    def _area_name(self, area: str, what: str) -> str:
        """What the row reads, then the vendor's permission for it: Aeries names classes "Classes and Master
        Schedule" and enrollments "Master Schedule and Classes", two rows that read as one repeated."""
        permission = self.profile.area_label(area)
        return what if permission.lower() in (area.lower(), what.lower()) else f"{what} ({permission})"

    def add(self, key: str, status: str, detail: str, fix: str = "") -> None:
        detail, fix = self.redactor(detail), self.redactor(fix)
        optional = key.removeprefix("read:") in OPTIONAL_AREAS
        if optional and status in ("denied", "failed"):
            detail = f"{detail} The people sync does not read this, so it does not fail the test."
        with self.lock:
            self.rows.append(CheckRow(key, self.labels[key], status, detail, fix, optional))

    def run(self) -> None:
        client = OneRosterClient(self.settings, timeout=REQUEST_TIMEOUT, max_retries=1, deadline=self.deadline,
                                 policy=self.policy, redactor=self.redactor)
        with client:
            if not self._token(client):
                for key in list(self.labels)[1:]:
                    self.add(key, "skipped", f"Skipped: needs the first row ({self.labels['token']}) to pass.")
                return
            school_ok = self._school(client)
            for area in PEOPLE_AREAS:
                self._people(client, area, school_ok)
            for area in OPTIONAL_AREAS:
                self._area(client, area, school_ok)

    def _token(self, client) -> bool:
        try:
            if client.tokens:
                client.authenticate()
                detail = "The SIS issued an access token."
                if client.tokens.granted:
                    names = ", ".join(s.rsplit("/", 1)[-1] for s in client.tokens.granted.split())
                    detail = f"The SIS issued an access token (scopes: {names})."
            else:
                client.first_page("schools")
                detail = "The SIS accepted a signed request."
        except PermissionDenied:
            detail = "The SIS accepted the credentials."
        except ScopeRefused as exc:
            self.add("token", "failed", exc.message, SCOPE_FIX)
            return False
        except AuthenticationFailed as exc:
            hint = client.credentials_hint
            self.add("token", "failed", exc.message.replace(hint, "").strip(), hint)
            return False
        except ConnectorError as exc:
            self.add("token", "failed", exc.message, "")
            return False
        self.add("token", "ok", detail)
        return True

    def _school(self, client) -> bool:
        wanted = self.settings.school_id
        try:
            schools, others = client.get_orgs()
            self._schools = people.SchoolIds(client, schools)  # the listings' strays are told by these, not a re-read
        except PermissionDenied as exc:
            self.add("school", "denied", exc.problem, self.profile.fix_for("schools", app_name=self.settings.app_name))
            return False
        except ConnectorError as exc:
            self.add("school", "failed", exc.message, "")
            return False
        for school in schools:
            if school.source_id.lower() == wanted.lower():
                self.add("school", "ok", f"Found {school.name or 'the school'} ({school.source_id}).")
                return True
        mistaken = _not_a_school(others.get(wanted.lower()), schools) or _named_otherwise(schools, wanted)
        if mistaken is None:  # the `schools` listing may leave the district out: ask for the org itself
            mistaken = _not_a_school(_other_org(client, wanted), schools)
        if mistaken is not None:
            self.add("school", "failed", mistaken, self.profile.school_id_hint)
            return False
        shown = _listed(schools)
        detail = (f"The School ID {wanted} is not among this SIS's schools: {shown}." if shown
                  else f"The School ID {wanted} was not found: the SIS lists no schools.")
        self.add("school", "failed", detail, self.profile.school_id_hint)
        return False

    def _people(self, client, area: str, school_ok: bool) -> None:
        """Open the listing the sync would read for `area` (with its fallbacks, a school listing that returns
        other schools' people among them, as the sync decides it) and read a few records."""
        key = f"read:{area}"
        role = {"students": "student", "teachers": "teacher"}.get(area)
        steps = people.listings_for(self.settings.school_id, {role} if role else {"staff", "school_admin", "parent"})
        if role and not school_ok:
            self.add(key, "skipped", "Skipped until the School ID is found.")
            return
        try:
            listing = people.open_for_school(client, steps[0], self.settings.school_id, self.schools(client),
                                             params={"limit": SAMPLE})
        except ConnectorError as exc:
            self._refused(key, area, exc)
            return
        found = "Read a record" if listing.first else "Access works (no records yet)"
        if listing.passed_over:
            why = "; ".join(f"{path} {reason}" for path, reason in listing.passed_over)
            self.add(key, "ok", f"{found} from {listing.path}: {why}, so the sync reads {listing.path} and keeps "
                                f"this school's {WHO[area]}.")
        else:
            self.add(key, "ok", f"{found} from {listing.path}.")

    def _refused(self, key: str, area: str, exc: ConnectorError) -> None:
        if isinstance(exc, PermissionDenied):
            scope = "insufficient_scope" in exc.message
            fix = SCOPE_FIX if scope else self.profile.fix_for(area, app_name=self.settings.app_name)
            self.add(key, "denied", exc.problem, fix)
        else:
            self.add(key, "failed", exc.message, "")

    def _area(self, client, area: str, school_ok: bool) -> None:
        key = f"read:{area}"
        path = self.profile.area_path(area, self.settings.school_id)
        if path.startswith("schools/") and not school_ok:
            self.add(key, "skipped", "Skipped until the School ID is found.")
            return
        try:
            records = client.first_page(path)
        except ConnectorError as exc:
            self._refused(key, area, exc)
            return
        self.add(key, "ok", "Read a record." if records else "Access works (no records yet).")


def run_connection_test(settings: ConnectionSettings, *, deadline_seconds: float = 20.0,
                        policy: OutboundPolicy | None = None) -> list[CheckRow]:
    """Every check as a row; rows still unfinished at the deadline are 'failed: timed out'."""
    end = time.monotonic() + deadline_seconds
    checklist = _Checklist(settings, end, policy)

    def work():
        try:
            with checklist.redactor.active():  # a log line written meanwhile is masked too
                checklist.run()
        except Exception as exc:  # noqa: BLE001 - a bug must not hang the page; it shows as a row
            missing = [k for k in checklist.labels if k not in {r.key for r in checklist.rows}]
            if missing:
                checklist.add(missing[0], "failed", f"Unexpected error: {type(exc).__name__}.")

    worker = threading.Thread(target=work, name="connection-test", daemon=True)
    worker.start()
    worker.join(max(0.0, end - time.monotonic()) + 0.5)
    with checklist.lock:
        rows = list(checklist.rows)
    done = {r.key for r in rows}
    for key, label in checklist.labels.items():
        if key not in done:
            rows.append(CheckRow(key, label, "failed",
                                 f"Timed out: the SIS did not answer within {deadline_seconds:g} seconds.",
                                 "Check that the SIS is up, then test again.",
                                 key.removeprefix("read:") in OPTIONAL_AREAS))
    return rows


__all__ = ["CheckRow", "headline", "run_connection_test"]
