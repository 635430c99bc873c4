"""Changes to sandbox data for sync tests (mutate, rename) and record-level faults."""
import random
from datetime import datetime, timezone

from ..records import normalise_user
from ..errors import BadResponse
from .data import Dataset, iso
from .names import FAMILY, GIVEN, ascii_slug

PARENT_ROLES_SET = {"guardian", "parent", "relative"}


def _now() -> str:
    return iso(datetime.now(timezone.utc))


def mutate(data: Dataset, change_fraction: float = 0.0, remove_fraction: float = 0.0, seed: int = 0,
           remove_mode: str = "mixed") -> dict:
    """Rename a fraction of people and remove another (tobedeleted, dropped, or alternating)."""
    rng = random.Random(seed)
    with data.lock:
        ids = sorted(data.users)
        rng.shuffle(ids)
        n_change = round(len(ids) * change_fraction)
        n_remove = round(len(ids) * remove_fraction)
        changed, removed = ids[:n_change], ids[n_change:n_change + n_remove]
        stamp = _now()
        _rename_all(data, changed, "givenName", GIVEN, rng, stamp)
        marked, dropped = [], []
        for n, sid in enumerate(removed):
            drop = remove_mode == "drop" or (remove_mode == "mixed" and n % 2)
            if drop:
                del data.users[sid]
                dropped.append(sid)
            else:
                data.users[sid]["status"] = "tobedeleted"
                data.users[sid]["dateLastModified"] = stamp
                marked.append(sid)
        data.changed(changed + removed)
    return {"changed": sorted(changed), "tobedeleted": sorted(marked), "dropped": sorted(dropped)}


def _rename_all(data: Dataset, sids: list[str], key: str, names: list[str], rng: random.Random, stamp: str) -> None:
    """Give each of these people another name from `names` (givenName or familyName)."""
    for sid in sids:
        user = data.users[sid]
        user[key] = rng.choice([name for name in names if name != user[key]])
        user["dateLastModified"] = stamp


def rename(data: Dataset, source_id: str, given_name: str | None = None, family_name: str | None = None) -> dict:
    """Change one person's names and bump dateLastModified."""
    with data.lock:
        user = data.users[source_id]
        if given_name is not None:
            user["givenName"] = given_name
        if family_name is not None:
            user["familyName"] = family_name
        user["dateLastModified"] = _now()
        data.changed([source_id])
        return dict(user)


def give_roles(data: Dataset, source_id: str, roles: list[dict]) -> dict:
    """Give one person OneRoster 1.2 roles by org: `roles` is [{roleType, role, org (a sourcedId), beginDate?,
    endDate?}]. The 1.2 view serves them as they are; the 1.1 view keeps the primary role and every org."""
    with data.lock:
        user = data.users[source_id]
        user["roles12"] = [dict(r) for r in roles]
        primary = next((r for r in roles if r.get("roleType") == "primary"), roles[0])
        user["role"] = primary["role"]
        user["orgs"] = [data.ref("org", org) for org in dict.fromkeys(r["org"] for r in roles)]
        user["dateLastModified"] = _now()
        data.changed([source_id])
        return dict(user)


SIMULATE_LIMIT = 500  # per kind of change: a demo control, not a load generator


def simulate(data: Dataset, school_id: str, renames: int = 5, removals: int = 3, additions: int = 3,
             seed: int | None = None) -> dict:
    """What a school's SIS does between two nights (the demo's "Simulate SIS changes"): rename some of the school's
    people, mark some as leaving (tobedeleted) and enrol new students. Returns the chosen and new sourcedIds."""
    counts = {"renames": renames, "removals": removals, "additions": additions}
    for name, value in counts.items():
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= SIMULATE_LIMIT:
            raise ValueError(f"{name} must be a whole number from 0 to {SIMULATE_LIMIT}")
    if school_id not in data.school_ids:
        raise ValueError(f"The sandbox has no school {school_id!r}; its schools are {', '.join(data.school_ids)}")
    rng = random.Random(seed)
    with data.lock:
        # Only people still on the roster: a disabled account ("enabledUser" false) has left it already.
        ours = sorted(sid for sid, user in data.users.items() if user["status"] == "active"
                      and str(user.get("enabledUser", True)).lower() not in ("false", "0")
                      and user["role"] not in PARENT_ROLES_SET
                      and any(org["sourcedId"] == school_id for org in user["orgs"]))
        rng.shuffle(ours)
        renamed, removed = ours[:renames], ours[renames:renames + removals]
        stamp = _now()
        _rename_all(data, renamed, "familyName", FAMILY, rng, stamp)
        for sid in removed:
            data.users[sid].update(status="tobedeleted", dateLastModified=stamp)
        students = [sid for sid in ours if data.users[sid]["role"] == "student"]
        added = [_enrol(data, data.users[rng.choice(students)], rng, stamp) for _ in range(additions)] \
            if students else []
        data.changed(renamed + removed + added)
    return {"renamed": sorted(renamed), "removed": sorted(removed), "added": added}


def _enrol(data: Dataset, like: dict, rng: random.Random, stamp: str) -> str:
    """A new student in `like`'s school and grade, with a new sourcedId, SIS number, name and email."""
    sid = data._id("student")  # noqa: SLF001 - the dataset's own id scheme (vendor-shaped)
    number = f"{data._counter:06d}"  # noqa: SLF001
    given, family = rng.choice(GIVEN), rng.choice(FAMILY)
    slug = f"{ascii_slug(given)}.{ascii_slug(family)}"
    data.users[sid] = {**like, "sourcedId": sid, "status": "active", "dateLastModified": stamp, "givenName": given,
                       "familyName": family, "identifier": number, "username": f"{slug}{number}",
                       "userIds": [{"type": "SIS", "identifier": number}], "agents": [],
                       "email": f"{slug}{number}@students.sandbox.example.org"}
    return sid


def apply_record_faults(data: Dataset, *, tobedeleted: int = 0, duplicates: int = 0, missing_names: int = 0,
                        unreadable_dates: int = 0, vendor_formats: bool = False, parent_links: str = "both") -> dict:
    """Serve some students as tobedeleted, twice, without names or with unreadable dates, and optionally
    every user in vendors' formats; returns the chosen ids."""
    with data.lock:
        students = data.user_ids("students")
        counts = (("tobedeleted", tobedeleted), ("duplicates", duplicates), ("missing_names", missing_names),
                  ("unreadable_dates", unreadable_dates))
        step = max(1, len(students) // max(1, sum(n for _, n in counts)))
        picks, chosen, start = students[::step], {}, 0
        for name, n in counts:
            chosen[name], start = picks[start:start + n], start + n
        old = set(data.overlay) | data.duplicates | data.unreadable
        data.overlay = {sid: {"status": "tobedeleted"} for sid in chosen["tobedeleted"]}
        data.overlay.update({sid: {"_drop": ("givenName", "familyName")} for sid in chosen["missing_names"]})
        data.duplicates = set(chosen["duplicates"])
        data.unreadable = set(chosen["unreadable_dates"])
        if (vendor_formats, parent_links) != (data.styled, data.parent_links):
            data.styled, data.parent_links = vendor_formats, parent_links
            old |= set(data.users)
        data.changed(old | set(data.overlay) | data.duplicates | data.unreadable)
        return chosen


def people(data: Dataset, school_id: str, parents: str = "linked") -> list:
    """Truth for tests: the school's people as PersonRecords; parents "linked" to its students or "all"."""
    with data.lock:
        served = [data.served(sid, styled=False) for sid in sorted(data.users)]
    own, linked = [], set()
    for raw in served:
        orgs = {o["sourcedId"] for o in raw["orgs"]}
        if raw["role"] in PARENT_ROLES_SET:
            continue
        if school_id in orgs:
            own.append(raw)
            if raw["role"] == "student":
                linked.update(a["sourcedId"] for a in raw["agents"])
    guardians = [raw for raw in served if raw["role"] in PARENT_ROLES_SET
                 and (parents == "all" or raw["sourcedId"] in linked)]
    result = []
    for raw in own + guardians:
        try:
            result.append(normalise_user(raw))
        except BadResponse:
            continue
    return result

