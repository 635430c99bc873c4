"""A page of columns (a CSV bundle's kept records) is planned as its records would be one by one: the same creates,
contacts, issues, skips, links and archives, whether jobs.plan_columns takes the page or sends it back.

Pure: no Flask, no database. The per-record rules themselves are tested in test_planner.py (whose `run` plans every
case both ways too).
"""
import copy
import random
from datetime import datetime, timedelta, timezone

import pytest

from connectors.records import PersonColumns, PersonRecord, RecordProblem
from jobs import plan as plan_module
from jobs.fields import FIELDS, PARENT_FIELDS, SEPARATOR, pack
from jobs.plan import DirectoryIndex, Entry, Planner, SyncOptions

from .test_planner import record

ROLES = frozenset({"student", "teacher", "staff", "school_admin"})
BASE = datetime(2026, 1, 5, tzinfo=timezone.utc)
DIRT = ("dup_sid", "dup_email", "leaving", "disabled", "long_name", "separator", "legacy", "known", "hand_made",
        "signs_in", "sis_id_here", "long_sid", "two_agents", "parent_side", "parent_separator", "no_email",
        "problem", "long_parent")


def _directory() -> DirectoryIndex:
    """Someone rostered (k-3), someone made by hand (hand@…), an account that signs in, an SIS id in use."""
    directory = DirectoryIndex()
    values = ("student", "Kim", "", "Known", "k-3@sis.example.org", "k-3", "N-k-3", "", "")
    directory.add(Entry(1, pack(values + ("", "", "")), "active", "", True, "student"), "k-3", values[4], values[6])
    directory.add(Entry(2, pack(("teacher", "Hana", "", "Hand", "hand@x.org", "", "", "", "", "", "", "")), "active",
                        "", True, "teacher"), None, "hand@x.org", "")
    directory.add(Entry(3, pack(("teacher", "Olive", "", "Owner", "olive@x.org", "", "", "", "", "", "", "")),
                        "active", "", True, "owner", signs_in=True), None, "olive@x.org", "")
    directory.add(Entry(4, pack(("staff", "Sid", "", "Used", "", "", "T-used", "", "", "", "", "")), "active", "",
                        True, "staff"), "u-9", "", "T-used")
    return directory


def _person(rng: random.Random, i: int, dirt: str) -> PersonRecord | RecordProblem:
    role = rng.choice(["student", "student", "teacher", "staff", "school_admin"])
    agents = (f"p-{i // 2}",) if role == "student" else ()
    sid = f"s-{i}"
    more = {"given": f"Given{i}", "family": rng.choice([f"Family{i}", ""])}
    if dirt == "problem":
        return RecordProblem(f"s-{rng.randint(0, i + 3)}", "broken", "{}")
    if dirt == "dup_sid":
        sid = f"s-{rng.randint(max(0, i - 12), i + 2)}"
    if dirt == "known":  # someone here, whose email and SIS id the SIS changed
        sid, more = "k-3", {**more, "email": "k3.new@sis.example.org", "identifier": "N-k-3-new"}
    if dirt == "two_agents" and role == "student":
        agents = (f"p-{i}", f"p-{i // 2}", "p-none")
    made = record(sid, role=role, agents=agents, modified=BASE + timedelta(minutes=rng.randint(-100, 100)), **more)
    email = {"dup_email": f"s-{rng.randint(0, i)}@SIS.example.org", "hand_made": "Hand@x.org",
             "signs_in": "OLIVE@x.org", "no_email": "", "separator": f"a{SEPARATOR}b@x.org"}.get(dirt)
    change = {"email": email} if email is not None else {}
    change.update({"leaving": {"status": "tobedeleted"}, "disabled": {"enabled": False},
                   "long_name": {"given_name": "G" * 250}, "legacy": {"legacy_id": rng.choice(["k-3", f"old-{i}"])},
                   "sis_id_here": {"identifier": "T-used"}, "long_sid": {"source_id": "x" * 300},
                   "separator": {"family_name": f"Fam{SEPARATOR}ily"}}.get(dirt, {}))
    return made._replace(grades=rng.choice([(), ("09",), ("09", "10")]), **change)


def _parent(rng: random.Random, i: int, dirt: str) -> PersonRecord:
    # parent_side: also names a student whose own agents leave this parent out
    wards = (f"s-{2 * i}",) + ((f"s-{2 * i + 7}",) if dirt == "parent_side" else ())
    made = record(f"p-{i}", role="parent", sis_role=rng.choice(["guardian", "parent", "relative"]),
                  given=rng.choice(["Pat", ""]), family=f"Fam{i}", email=f"P-{i}@home.example.org",
                  phone=rng.choice(["", "+1 555 0100"]), agents=wards)
    if dirt == "parent_separator":
        made = made._replace(given_name=f"P{SEPARATOR}at")
    if dirt == "long_parent":
        made = made._replace(given_name="N" * 150, email="e" * 350 + "@x.org")
    if dirt == "leaving":
        made = made._replace(status="tobedeleted")
    return made


def _pages(seed: int, dirt_rate: float) -> list[list]:
    """Parents first, then the others, in pages of 10 to 40 items; a share `dirt_rate` of them dirty."""
    rng = random.Random(seed)
    pick = lambda: rng.choice(DIRT) if rng.random() < dirt_rate else ""  # noqa: E731
    parents = [_parent(rng, i, pick()) for i in range(60)]
    others = [_person(rng, i, pick()) for i in range(240)]
    pages = []
    for items in (parents, others):
        while items:
            size = rng.randint(10, 40)
            pages.append(items[:size])
            items = items[size:]
    return pages


def _as_columns(page: list) -> list:
    """The page as kept_pages(columns=True) hands it out: runs of records as PersonColumns, each with the problems
    after it (a page that opens with problems: those first, as a list)."""
    out, records, problems = [], [], []
    for item in page + [None]:
        if type(item) is PersonRecord or item is None:
            if problems or (item is None and records):
                out.append(PersonColumns([list(c) for c in zip(*records)] or [[] for _ in PersonRecord._fields],
                                         len(records), problems) if records else problems)
                records, problems = [], []
            if item is not None:
                records.append(item)
        else:
            problems.append(item)
    return out


def plan_both_ways(directory: DirectoryIndex, pages: list, **options) -> tuple:
    """(plan, issues, parent book) planned from lists and from columns, and how many column pages went through
    plan_columns; asserts they are the same."""
    options = SyncOptions(**{"roles": ROLES, **options})
    fields = FIELDS + PARENT_FIELDS if options.compare_parents else FIELDS
    results = []
    for columns in (False, True):
        planner = Planner(copy.deepcopy(directory), options, fields)
        issues = []
        for page in pages:
            for part in (_as_columns(list(page)) if columns else [list(page)]):
                issues += planner.add_page(part)
        plan = planner.finish()
        results.append((plan, issues, planner.parents._parents, planner.parents._wards, planner.seen,
                        planner.emails))
    assert results[0] == results[1]
    return results[0]


class Counted:
    """plan_columns, counting the pages it took and the pages it sent back."""

    def __init__(self, monkeypatch):
        self.taken = self.sent_back = 0
        real = plan_module.plan_columns

        def counted(*args):
            took = real(*args)
            self.taken += took
            self.sent_back += not took
            return took
        monkeypatch.setattr(plan_module, "plan_columns", counted)


@pytest.mark.parametrize("seed,dirt", [(1, 0.0), (2, 0.0), (3, 0.01), (4, 0.05), (5, 0.2), (6, 0.6)])
@pytest.mark.parametrize("options", [
    {"parents": True, "auto_update": True, "archive": True}, {"parents": False, "auto_update": True},
    {"parents": True, "full": False, "archive": True, "delta_archives_leaving": True},
    {"parents": True, "version_moved": True}], ids=["contacts", "no-contacts", "delta", "version-moved"])
def test_pages_of_columns_plan_as_their_records_do(monkeypatch, seed, dirt, options):
    counted = Counted(monkeypatch)
    plan, issues, *_ = plan_both_ways(_directory(), _pages(seed, dirt), **options)
    assert plan.created > 0
    if dirt == 0.0:
        assert counted.sent_back == 0 and counted.taken > 5  # a clean roster is planned column by column
    if dirt >= 0.2:
        assert counted.sent_back > 0 and issues


@pytest.mark.parametrize("dirt", DIRT)
def test_each_kind_of_awkward_person_plans_the_same_on_a_page_of_columns(monkeypatch, dirt):
    """One awkward person (or parent) among clean ones, at each place on its page."""
    rng = random.Random(dirt)
    for at in (0, 7, 19):
        parents = [_parent(rng, i, dirt if i == at else "") for i in range(20)]
        others = [_person(rng, i, dirt if i == at else "") for i in range(40)]
        counted = Counted(monkeypatch)
        plan_both_ways(_directory(), [parents, others[:20], others[20:]], parents=True, auto_update=True,
                       archive=True)
        assert counted.taken >= 1  # the clean pages around it still went column by column


def test_a_clean_page_creates_everyone_with_their_parent_contact():
    parent = record("p-1", role="parent", sis_role="guardian", given="Pat", family="Lee",
                    email="PAT@home.example.org", phone="+1 555 0100", agents=("s-2",))
    students = [record("s-1", agents=("p-1",), given="Ann"), record("s-2", given="Bo"),
                record("t-1", role="teacher", email="T-1@School.org")]
    plan, issues, *_ = plan_both_ways(DirectoryIndex(), [[parent], students], parents=True)
    assert not issues
    contact = ("Pat Lee", "pat@home.example.org", "+1 555 0100")
    assert [(sid, tuple(packed.split(SEPARATOR))[-3:]) for sid, packed, _ in plan.creates] == [
        ("s-1", contact), ("s-2", contact), ("t-1", ("", "", ""))]  # s-2 named by the guardian's agents only
    assert plan.creates[2][1].split(SEPARATOR)[FIELDS.index("email")] == "t-1@school.org"
