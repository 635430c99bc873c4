"""A OneRoster 1.1 (and optionally 1.2) sandbox SIS (Aeries, Infinite Campus or generic shape) for tests, demos and
benchmarks."""
import dataclasses
import threading
from collections import Counter

from ..profiles import get_profile
from ..settings import ConnectionSettings
from . import mutations
from .auth import TOKEN_LIFETIME, Credentials
from .data import Dataset
from .faults import RECORD_FAULTS, FaultState
from .server import ADMIN_PATH, DATA, SandboxServer
from .v12 import DATA12

VENDORS = ("aeries", "infinite-campus", "oneroster")
DEFAULT_HEADERS = {"aeries": (True, True), "infinite-campus": (False, True), "oneroster": (True, False)}


class Sandbox:
    """One running sandbox server and its data; drive it from tests or over `admin_url`."""

    def __init__(self, vendor="oneroster", schools=3, students=300, seed=1, port=0, *, auth="oauth2",
                 page_cap=1000, app_name="minga", legacy_token=False, link_header=None, total_header=None,
                 signature_type="header", token_lifetime=TOKEN_LIFETIME, client_id=None, client_secret=None,
                 faults=None, base_path="/oneroster", oneroster_12=False):
        if vendor not in VENDORS:
            raise ValueError(f"vendor must be one of {VENDORS}")
        if auth == "oauth1" and vendor != "oneroster":
            raise ValueError("OAuth 1.0a is only offered by the generic oneroster sandbox")
        if base_path != "/oneroster" and (vendor != "oneroster" or not base_path.startswith("/")):
            raise ValueError("base_path is a path such as /api, for the generic oneroster sandbox only")
        if oneroster_12 and vendor == "aeries":
            raise ValueError("Aeries serves OneRoster 1.1 only")
        self.vendor, self.auth, self.app_name = vendor, auth, app_name
        self.page_cap, self.token_lifetime, self.signature_type = page_cap, token_lifetime, signature_type
        default_link, default_total = DEFAULT_HEADERS[vendor]
        self.link_header = default_link if link_header is None else link_header
        self.total_header = default_total if total_header is None else total_header
        self.data = Dataset(vendor, schools, students, seed)
        self.faults = FaultState()
        self.credentials = Credentials(client_id or f"sandbox-{vendor}-{seed}",
                                       client_secret or f"s3cret-{vendor}-{seed}-Xq9")
        self.stopping = threading.Event()
        self._served_lock = threading.Lock()
        self.requests: Counter = Counter()  # data requests answered with a page, per listing path
        self.records: Counter = Counter()   # records those pages held, per listing path
        self.lookups: Counter = Counter()   # single-record requests (users/{id}, schools/{id}), per collection
        self.hard_deleted: list[str] = []   # sourcedIds the delete_mid_paging fault removed
        self.server = SandboxServer(self, port)
        self.port = self.server.server_address[1]
        root = f"http://127.0.0.1:{self.port}"
        # base_path serves the generic shape where a vendor's URL rule wants another path (Skyward: /api)
        self.base_path = {"aeries": "/aeries", "oneroster": base_path.rstrip("/"),
                          "infinite-campus": f"/campus/api/oneroster/v1p1/{app_name}"}[vendor]
        token_path = {"aeries": "/aeries/token" if legacy_token else "/aeries/v2/oauth/token",
                      "oneroster": f"{base_path.rstrip('/')}/token", "infinite-campus": "/campus/oauth2/token"}[vendor]
        self.token_paths = {token_path}
        # 1.2 beside 1.1 (the switch): Campus serves it at /campus/api/ims/oneroster/rostering/v1p2, without the
        # App Name; the generic shape under the same base path.
        self.base_path_12 = "/campus/api" if vendor == "infinite-campus" else self.base_path
        self.data_prefixes = [(self.base_path + DATA, "1.1")]
        if oneroster_12:
            self.data_prefixes.append((self.base_path_12 + DATA12, "1.2"))
        token_url = root + token_path + (f"?appName={app_name}" if vendor == "infinite-campus" else "")
        self.info = {"vendor": vendor, "base_url": root + self.base_path, "token_url": token_url,
                     "client_id": self.credentials.client_id, "client_secret": self.credentials.client_secret,
                     "school_ids": list(self.data.school_ids), "admin_url": root + ADMIN_PATH,
                     "auth_mode": auth, "app_name": app_name if vendor == "infinite-campus" else "",
                     "versions": [v for _, v in self.data_prefixes]}
        if faults:
            self.set_faults(**faults)
        self._thread = None

    def start(self) -> "Sandbox":
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), name=f"sandbox-{self.port}",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()

    def settings(self, school_index: int = 0, version: str = "1.1") -> ConnectionSettings:
        """Settings as a user would enter them, run through the vendor's profile (loopback http allowed)."""
        info = self.info
        values = {"url": info["base_url"] + ("/" if self.vendor == "aeries" else ""),
                  "client_id": info["client_id"], "client_secret": info["client_secret"],
                  "school_id": self.data.school_ids[school_index], "oneroster_version": version}
        if self.vendor == "infinite-campus":
            values["app_name"] = self.app_name
        if self.vendor == "oneroster":
            values.update(token_url=info["token_url"], auth_mode=self.auth)
        settings = get_profile(self.vendor).normalise(values, allow_loopback_http=True)
        return dataclasses.replace(settings, oauth1_signature_type=self.signature_type)

    def count_served(self, path: str, records: int) -> None:
        with self._served_lock:
            self.requests[path] += 1
            self.records[path] += records

    def count_lookup(self, collection: str) -> None:
        with self._served_lock:
            self.lookups[collection] += 1

    def served(self, reset: bool = False) -> dict:
        """Pages and records served per listing path, and single-record look-ups per collection, since the start
        (or the last reset)."""
        with self._served_lock:
            counts = {"requests": dict(self.requests), "records": dict(self.records),
                      "total_records": sum(self.records.values()), "lookups": dict(self.lookups)}
            if reset:
                self.requests.clear()
                self.records.clear()
                self.lookups.clear()
            return counts

    def hard_delete(self, source_id: str) -> None:
        """The SIS removes a user outright (no tobedeleted): later listings and look-ups no longer have them."""
        with self.data.lock:
            if self.data.users.pop(source_id, None) is not None:
                self.hard_deleted.append(source_id)
        self.data.changed([source_id])

    def set_faults(self, **faults) -> dict:
        """Switch faults on (see faults.Faults); record faults pick students deterministically."""
        self.faults.set(**faults)
        current = self.faults.snapshot()
        chosen = mutations.apply_record_faults(self.data, **{k: current[k] for k in RECORD_FAULTS})
        return {"faults": current, "records": chosen}

    def clear_faults(self) -> None:
        self.faults.clear()
        mutations.apply_record_faults(self.data)

    def mutate(self, change_fraction=0.0, remove_fraction=0.0, seed=0, remove_mode="mixed") -> dict:
        return mutations.mutate(self.data, change_fraction, remove_fraction, seed, remove_mode)

    def rename(self, source_id, given_name=None, family_name=None) -> dict:
        return mutations.rename(self.data, source_id, given_name, family_name)

    def give_roles(self, source_id: str, roles: list[dict]) -> dict:
        return mutations.give_roles(self.data, source_id, roles)

    def simulate(self, school_id: str, renames: int = 5, removals: int = 3, additions: int = 3,
                 seed: int | None = None) -> dict:
        """The demo's "Simulate SIS changes": rename, remove (tobedeleted) and add people of one school."""
        return mutations.simulate(self.data, school_id, renames, removals, additions, seed)

    def people(self, school_index: int = 0, parents: str = "linked") -> list:
        """Expected PersonRecords for a school (parents linked to its students, or "all")."""
        return mutations.people(self.data, self.data.school_ids[school_index], parents)

    def admin(self, action: str, **kwargs):
        """The HTTP admin API: same controls as the methods, JSON in and out."""
        if action == "people":
            return [p._asdict() for p in self.people(**kwargs)]
        actions = {"set_faults": self.set_faults, "clear_faults": self.clear_faults, "mutate": self.mutate,
                   "rename": self.rename, "give_roles": self.give_roles, "simulate": self.simulate, "info": lambda: self.info,
                   "served": self.served}
        if action not in actions:
            raise ValueError(f"Unknown action {action!r}; known: {sorted(actions) + ['people']}")
        return actions[action](**kwargs) or {"ok": True}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def oneroster_form_values(info: dict, school_index: int = 0) -> dict:
    """The Rostering form's fields for a sandbox served as a generic OneRoster provider (`info` as it prints)."""
    return {"url": info["base_url"], "token_url": info["token_url"], "auth_mode": "oauth2",
            "client_id": info["client_id"], "client_secret": info["client_secret"],
            "school_id": info["school_ids"][school_index]}


def start_sandbox(vendor="oneroster", schools=3, students=300, seed=1, port=0, **options) -> Sandbox:
    """Build and start a sandbox in a background thread (port 0 picks a free port)."""
    return Sandbox(vendor, schools, students, seed, port, **options).start()


__all__ = ["Sandbox", "VENDORS", "start_sandbox"]
