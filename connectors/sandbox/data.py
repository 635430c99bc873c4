"""Deterministic sandbox district: schools, people, terms, courses, classes and enrollments."""
import json
import random
import threading
import uuid
from datetime import datetime, timedelta, timezone

from .formats import UNREADABLE_DATE, restyle
from .v12 import new_id, to_v12
from .names import FAMILY, GIVEN, MIDDLE, ascii_slug

BASE_DATE = datetime(2025, 6, 1, tzinfo=timezone.utc)
GRADES = ["KG", "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12"]
PARENT_ROLES = ("guardian", "parent", "guardian", "relative")


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def json_bytes(value) -> bytes:
    """Compact UTF-8 JSON; a value holding a lone surrogate (which UTF-8 cannot carry) goes \\u-escaped, as a real
    server's JSON would carry it ("\\ud800"), so that tests can serve such a record."""
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    except UnicodeEncodeError:
        return json.dumps(value, separators=(",", ":")).encode()


class Dataset:
    """All sandbox records, with cached sorted listings and cached JSON bytes per record."""

    def __init__(self, vendor: str, schools: int, students: int, seed: int):
        self.vendor = vendor
        self.rng = random.Random(seed)
        self.lock = threading.RLock()
        self.users: dict[str, dict] = {}
        self.overlay: dict[str, dict] = {}
        self.duplicates: set[str] = set()
        self.styled = False  # the "vendor_formats" switch (see formats.restyle)
        self.unreadable: set[str] = set()  # people served with a dateLastModified no parser reads
        self.parent_links = "both"  # or "guardian_side": students' own agents left empty
        self._bytes: dict[tuple[str, str], bytes] = {}
        self._listings: dict[tuple, list[str]] = {}
        self._v12_ids: dict[str, str] = {}  # 1.2 sourcedId -> the person's 1.1 id (filled as listings are built)
        self._counter = 0
        self.district_id = "0" if vendor == "aeries" else self._id("district")
        self.school_ids = self._school_ids(schools)
        self.orgs = self._orgs()
        self._build_people(students)
        self.terms, self.courses, self.classes, self.enrollments = self._build_schedule()

    # ---- ids and references -------------------------------------------------------------
    def _id(self, kind: str) -> str:
        self._counter += 1
        if self.vendor == "infinite-campus":
            return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        if self.vendor == "aeries":
            return f"{kind[:3]}-{self.rng.randrange(10**7):07d}-{self._counter}"
        return f"{kind}-{self.rng.getrandbits(48):012x}"

    def _school_ids(self, count: int) -> list[str]:
        if self.vendor == "aeries":
            codes = ["994", "5", "1"]
            while len(codes) < count:
                code = str(self.rng.randrange(2, 990))
                if code not in codes:
                    codes.append(code)
            return codes[:count]
        if self.vendor == "infinite-campus":
            return [str(uuid.UUID(int=self.rng.getrandbits(128), version=4)).upper() for _ in range(count)]
        return [f"school-{i + 1:03d}" for i in range(count)]

    def ref(self, kind: str, sourced_id: str) -> dict:
        collection = {"org": "orgs", "user": "users", "academicSession": "academicSessions"}.get(kind, kind + "s")
        prefix = "~/ims/oneroster/v1p1" if self.vendor == "aeries" else "/ims/oneroster/v1p1"
        return {"href": f"{prefix}/{collection}/{sourced_id}", "sourcedId": sourced_id, "type": kind}

    def _date(self) -> str:
        return iso(BASE_DATE + timedelta(seconds=self.rng.randrange(200 * 86400)))

    def _orgs(self) -> list[dict]:
        district = {"sourcedId": self.district_id, "status": "active", "dateLastModified": iso(BASE_DATE),
                    "name": "Sandbox Unified School District", "type": "district", "identifier": "SUSD",
                    "parent": None, "children": [self.ref("org", s) for s in self.school_ids]}
        schools = [{"sourcedId": sid, "status": "active", "dateLastModified": iso(BASE_DATE),
                    "name": f"{name} {kind}", "type": "school", "identifier": f"SCH{n + 1}",
                    "parent": self.ref("org", self.district_id), "children": []}
                   for n, (sid, name, kind) in enumerate(
                       (sid, FAMILY[i % len(FAMILY)].replace("'", ""), ("Elementary", "Middle School",
                                                                          "High School")[i % 3])
                       for i, sid in enumerate(self.school_ids))]
        return [district] + schools

    # ---- people -----------------------------------------------------------------------
    def _person(self, role: str, orgs: list[str], domain: str) -> dict:
        rng = self.rng
        given, family, middle = rng.choice(GIVEN), rng.choice(FAMILY), rng.choice(MIDDLE)
        sid = self._id(role)
        number = f"{self._counter:06d}"
        enabled = "true" if rng.random() > 0.01 else "false"
        record = {
            "sourcedId": sid, "status": "active", "dateLastModified": self._date(), "metadata": {},
            "username": f"{ascii_slug(given)}.{ascii_slug(family)}{number}", "userIds": [
                {"type": "SIS", "identifier": number}],
            "enabledUser": enabled if self.vendor != "oneroster" else enabled == "true",
            "givenName": given, "familyName": family, "middleName": middle, "role": role,
            "identifier": number, "email": f"{ascii_slug(given)}.{ascii_slug(family)}{number}@{domain}",
            "sms": "", "phone": f"+1-555-{rng.randrange(100, 999)}-{rng.randrange(1000, 9999)}",
            "agents": [], "orgs": [self.ref("org", o) for o in orgs], "grades": [], "password": "",
        }
        self.users[sid] = record
        return record

    def _build_people(self, students: int) -> None:
        rng, schools = self.rng, self.school_ids
        self._last_guardians: list[dict] = []
        for index in range(students):
            school = schools[index % len(schools)]
            student = self._person("student", [school], "students.sandbox.example.org")
            student["grades"] = [rng.choice(GRADES)]
            if index and rng.random() < 0.1 and self._last_guardians:  # siblings share guardians
                guardians = self._last_guardians
            else:
                guardians = [self._person(rng.choice(PARENT_ROLES), [], "families.example.org")
                             for _ in range(rng.choice((1, 1, 2)))]
            for guardian in guardians:
                guardian["agents"].append(self.ref("user", student["sourcedId"]))
                student["agents"].append(self.ref("user", guardian["sourcedId"]))
            self._last_guardians = guardians
        per_school = max(1, students // max(1, len(schools)))
        for n, school in enumerate(schools):
            for _ in range(max(2, per_school // 25)):
                teacher = self._person("teacher", [school], "staff.sandbox.example.org")
                teacher["grades"] = sorted(rng.sample(GRADES, 2))
            for _ in range(max(1, per_school // 150)):
                self._person(rng.choice(("aide", "aide", "proctor")), [school], "staff.sandbox.example.org")
            self._person("administrator", [school], "staff.sandbox.example.org")
            if len(schools) > 1:  # a teacher shared with the next school
                self._person("teacher", [school, schools[(n + 1) % len(schools)]], "staff.sandbox.example.org")
        self._person("administrator", [self.district_id], "district.sandbox.example.org")

    # ---- schedule (enough for read-access checks) ----------------------------------------
    def _build_schedule(self):
        year = {"sourcedId": self._id("session"), "status": "active", "dateLastModified": iso(BASE_DATE),
                "title": "2025-2026", "type": "schoolYear", "startDate": "2025-08-15",
                "endDate": "2026-06-10", "parent": None, "schoolYear": "2026"}
        terms = [year] + [{"sourcedId": self._id("session"), "status": "active",
                           "dateLastModified": iso(BASE_DATE), "title": title, "type": "semester",
                           "startDate": start, "endDate": end, "parent": self.ref("academicSession",
                                                                                  year["sourcedId"]),
                           "schoolYear": "2026"}
                          for title, start, end in (("Fall", "2025-08-15", "2026-01-15"),
                                                    ("Spring", "2026-01-20", "2026-06-10"))]
        courses, classes, enrollments = [], [], []
        teachers = {}
        for user in self.users.values():
            if user["role"] == "teacher":
                teachers.setdefault(user["orgs"][0]["sourcedId"], user)
        for school in self.school_ids:
            for subject in ("Mathematics", "English", "Science"):
                course = {"sourcedId": self._id("course"), "status": "active", "dateLastModified": iso(BASE_DATE),
                          "title": subject, "courseCode": subject[:4].upper(), "org": self.ref("org", school),
                          "schoolYear": self.ref("academicSession", year["sourcedId"])}
                courses.append(course)
                klass = {"sourcedId": self._id("class"), "status": "active", "dateLastModified": iso(BASE_DATE),
                         "title": f"{subject} 1", "classType": "scheduled", "course": self.ref("course",
                                                                                                course["sourcedId"]),
                         "school": self.ref("org", school), "terms": [self.ref("academicSession",
                                                                               terms[1]["sourcedId"])]}
                classes.append(klass)
                teacher = teachers.get(school)
                if teacher:
                    enrollments.append({"sourcedId": self._id("enrollment"), "status": "active",
                                        "dateLastModified": iso(BASE_DATE), "role": "teacher", "primary": "true",
                                        "user": self.ref("user", teacher["sourcedId"]),
                                        "class": self.ref("class", klass["sourcedId"]),
                                        "school": self.ref("org", school)})
        return terms, courses, classes, enrollments

    # ---- serving -------------------------------------------------------------------------
    def served(self, sid: str, styled: bool = True) -> dict:
        """The record as served (fault overlays applied; vendor formats too unless `styled` is False)."""
        record = self.users[sid]
        overlay = self.overlay.get(sid)
        if overlay is not None:
            merged = {k: v for k, v in record.items() if k not in overlay.get("_drop", ())}
            merged.update({k: v for k, v in overlay.items() if k != "_drop"})
            record = merged
        if styled and self.parent_links == "guardian_side" and record["role"] == "student" and record["agents"]:
            record = {**record, "agents": []}
        if styled and (self.styled or sid in self.unreadable):
            record = restyle(record, unreadable=sid in self.unreadable) if self.styled else \
                {**record, "dateLastModified": UNREADABLE_DATE}
        return record

    def served_as(self, sid: str, version: str) -> dict:
        """The record as served at a version's path (1.2: see v12.to_v12)."""
        record = self.served(sid)
        if version == "1.2":
            return to_v12(record, self.vendor, self.district_id)
        return {k: v for k, v in record.items() if k != "roles12"} if "roles12" in record else record

    def v12_source(self, v12_id: str) -> str | None:
        """The 1.1 id of the person a 1.2 sourcedId names (None when nobody)."""
        if not self._v12_ids:
            self._v12_ids = {new_id(sid): sid for sid in self.users}
        return self._v12_ids.get(v12_id)

    def record_bytes(self, sid: str, version: str = "1.1") -> bytes:
        """Cached JSON for one served user (the cache keeps 100k-user paging fast)."""
        cached = self._bytes.get((sid, version))
        if cached is None:
            cached = json_bytes(self.served_as(sid, version))
            self._bytes[(sid, version)] = cached
        return cached

    def user_ids(self, collection: str, school: str | None = None, version: str = "1.1") -> list[str]:
        """User ids of a listing (users, students, teachers; optionally one school), in the order of the sourcedIds
        the version serves (1.1 ids either way: record_bytes turns them into 1.2 records)."""
        if version == "1.2":
            key = (collection, school, version)
            with self.lock:
                listing = self._listings.get(key)
                if listing is None:
                    listing = sorted(self.user_ids(collection, school), key=new_id)
                    self._listings[key] = listing
                return listing
        key = (collection, school)
        with self.lock:
            listing = self._listings.get(key)
            if listing is None:
                role = {"students": "student", "teachers": "teacher"}.get(collection)
                listing = sorted(
                    sid for sid, u in self.users.items()
                    if (role is None or u["role"] == role or _holds(u, role, school))
                    and (school is None or any(o["sourcedId"] == school for o in u["orgs"])))
                dupes = [sid for sid in listing if sid in self.duplicates]
                if dupes:
                    listing = sorted(listing + dupes)
                self._listings[key] = listing
            return listing

    def changed(self, sids) -> None:
        """Forget caches after records changed."""
        with self.lock:
            for sid in sids:
                self._bytes.pop((sid, "1.1"), None)
                self._bytes.pop((sid, "1.2"), None)
            self._listings.clear()
            self._v12_ids = {}


def _holds(user: dict, role: str, school: str | None) -> bool:
    """A 1.2 role by org (mutations.give_roles) puts the person in that role's listings of that org too, as a SIS
    lists a teacher of one school whose primary role is another school's."""
    return any(r["role"] == role and (school is None or r["org"] == school) for r in user.get("roles12", ()))
