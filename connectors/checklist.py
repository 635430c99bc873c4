"""Test connection: a checklist (token, school, read access per area) finished within a deadline."""
import threading
import time
from dataclasses import dataclass

from .client import OneRosterClient
from .errors import AuthenticationFailed, ConnectorError, PermissionDenied
from .netguard import OutboundPolicy
from .profiles import AREAS, PROFILES
from .settings import ConnectionSettings

REQUEST_TIMEOUT = (3.0, 8.0)
SCHOOL_LIST_LIMIT = 30


@dataclass(frozen=True)
class CheckRow:
    """One checklist line: status is ok, denied, failed or skipped; fix says what to do."""

    key: str
    label: str
    status: str
    detail: str
    fix: str


def _school_sort_key(school_id: str):
    return (0, int(school_id), "") if school_id.isdigit() else (1, 0, school_id.lower())


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

    def _labels(self) -> dict[str, str]:
        token = "Token obtained" if self.settings.auth_mode == "oauth2" else "Signed requests accepted"
        labels = {"token": token, "school": "School found"}
        for area in AREAS:
            labels[f"read:{area}"] = f"Read access: {self.profile.area_label(area)}"
        return labels

    def add(self, key: str, status: str, detail: str, fix: str = "") -> None:
        secret = self.settings.client_secret
        if secret and len(secret) >= 4:
            detail, fix = detail.replace(secret, "••••"), fix.replace(secret, "••••")
        with self.lock:
            self.rows.append(CheckRow(key, self.labels[key], status, detail, fix))

    def run(self) -> None:
        client = OneRosterClient(self.settings, timeout=REQUEST_TIMEOUT, max_retries=1, deadline=self.deadline,
                                 policy=self.policy)
        with client:
            if not self._token(client):
                for key in list(self.labels)[1:]:
                    self.add(key, "skipped", f"Skipped: needs the first row ({self.labels['token']}) to pass.")
                return
            school_ok = self._school(client)
            for area in AREAS:
                self._area(client, area, school_ok)

    def _token(self, client) -> bool:
        try:
            if client.tokens:
                client.authenticate()
                detail = "The SIS issued an access token."
            else:
                client.first_page("schools")
                detail = "The SIS accepted a signed request."
        except PermissionDenied:
            detail = "The SIS accepted the credentials."
        except AuthenticationFailed as exc:
            hint = self.profile.credentials_hint
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
            schools = client.get_schools()
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
        ids = sorted({s.source_id for s in schools}, key=_school_sort_key)
        shown = ", ".join(ids[:SCHOOL_LIST_LIMIT]) + (f" and {len(ids) - SCHOOL_LIST_LIMIT} more"
                                                      if len(ids) > SCHOOL_LIST_LIMIT else "")
        detail = (f"The School ID {wanted} is not among this SIS's schools: {shown}." if ids
                  else f"The School ID {wanted} was not found: the SIS lists no schools.")
        self.add("school", "failed", detail, self.profile.school_id_hint)
        return False

    def _area(self, client, area: str, school_ok: bool) -> None:
        key = f"read:{area}"
        path = self.profile.area_path(area, self.settings.school_id)
        if path.startswith("schools/") and not school_ok:
            self.add(key, "skipped", "Skipped until the School ID is found.")
            return
        try:
            records = client.first_page(path)
        except PermissionDenied as exc:
            self.add(key, "denied", exc.problem, self.profile.fix_for(area, app_name=self.settings.app_name))
            return
        except ConnectorError as exc:
            self.add(key, "failed", exc.message, "")
            return
        self.add(key, "ok", "Read a record." if records else "Access works (no records yet).")


def run_connection_test(settings: ConnectionSettings, *, deadline_seconds: float = 20.0,
                        policy: OutboundPolicy | None = None) -> list[CheckRow]:
    """Every check as a row; rows still unfinished at the deadline are 'failed: timed out'."""
    end = time.monotonic() + deadline_seconds
    checklist = _Checklist(settings, end, policy)

    def work():
        try:
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
                                 "Check that the SIS is up, then test again."))
    return rows


__all__ = ["CheckRow", "run_connection_test"]
