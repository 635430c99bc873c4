"""The planner on its own: data in, plan out, no Flask and no database (each case runs in well under a millisecond).

Directory people and SIS records are built here as plain values; `DirectoryIndex.add` files them exactly as the
loader does. The same rules are tested end to end over the sandbox SIS in tests/jobs/test_sync_*.py.
"""
import subprocess
import sys
from datetime import datetime, timezone

import pytest

from connectors.records import PersonRecord, RecordProblem
from jobs.fields import FIELDS, PARENT_FIELDS, pack, pack_current, record_values
from jobs.plan import (AMBIGUOUS, ArchiveGuardTripped, DirectoryIndex, Entry, Planner, SyncOptions,
                       check_archive_guard)

ROLES = frozenset({"student", "teacher", "staff", "school_admin"})
MANAGERS = frozenset({"owner", "district_manager"})
JAN, FEB = datetime(2026, 1, 5, tzinfo=timezone.utc), datetime(2026, 2, 7, tzinfo=timezone.utc)
_ids = iter(range(1, 10**6))


def record(sid, role="student", given="Ann", family="Lee", email=None, identifier=None, status="active",
           enabled=True, agents=(), sis_role="", modified=JAN, phone="") -> PersonRecord:
    """An incoming SIS person (email and SIS id derived from the sourcedId unless given)."""
    return PersonRecord(source_id=sid, role=role, given_name=given, family_name=family, middle_name="",
                        email=f"{sid}@sis.example.org" if email is None else email, username=sid,
                        identifier=f"N-{sid}" if identifier is None else identifier, grades=(), phone=phone,
                        status=status, enabled=enabled, school_ids=("school-1",), agent_ids=tuple(agents),
                        date_last_modified=modified, sis_role=sis_role or role)


def parent(sid, sis_role="guardian", given="Pat", family="Lee", email=None, phone="+1-555-0100", **more):
    return record(sid, role="parent", sis_role=sis_role, given=given, family=family,
                  email=f"{sid}@family.example.org" if email is None else email, phone=phone, **more)


def person(sid=None, like=None, parents=False, status="active", archived_by="", sync_enabled=True, signs_in=False,
           **fields):
    """A directory person: rostered under `sid` (None: made by hand), with `like`'s current values or `fields`."""
    if like is not None:
        values = record_values(like, ("", "", "") if parents else None)
    else:
        base = dict(zip(FIELDS, ("student", "Ann", "", "Lee", "", "", "", "", "")))
        base.update(fields)
        values = tuple(base[n] for n in FIELDS + (PARENT_FIELDS if parents else ()))
    role = values[0]
    entry = Entry(next(_ids), pack_current(values), status, archived_by, sync_enabled, role, sid is not None,
                  signs_in or role in MANAGERS)
    return entry, sid, values[FIELDS.index("email")].lower(), values[FIELDS.index("sis_id")]


def index(*people, district_accounts=()) -> DirectoryIndex:
    directory = DirectoryIndex(manager_roles=MANAGERS)
    for entry, sid, email, sis_id in people:
        directory.add(entry, sid, email, sis_id)
    for name, email, *place in district_accounts:  # (name, email[, school or district elsewhere])
        directory.add_account_elsewhere(name, email, *place)
    return directory


def run(directory, *pages, **options):
    """Plan the pages; returns (plan, every issue). Each case is planned from lists of records and from pages of
    columns (a CSV bundle's kept records, jobs.plan_columns) and must come out the same."""
    from .test_plan_columns import plan_both_ways
    plan, found, *_ = plan_both_ways(directory, list(pages), **{"roles": ROLES, **options})
    return plan, found


def kinds(found) -> list[str]:
    return [issue[1] for issue in found]


def totals(plan, **expected) -> dict:
    return {name: plan.totals()[name] for name in expected}


# ---- linking people made by hand ------------------------------------------------------------------

def test_a_person_made_by_hand_is_linked_by_email_whatever_its_case():
    sis = record("t-1", role="teacher", email="Tess.Ng@School.org", given="Tess", family="Ng")
    hand = person(role="teacher", email="tess.ng@school.org", given_name="Tess", family_name="Nguyen")
    plan, found = run(index(hand), [sis], auto_update=True)
    assert found == [] and totals(plan, linked=1, created=0) == {"linked": 1, "created": 0}
    [(pid, sid, values, modified)] = plan.links
    assert (pid, sid, modified) == (hand[0].id, "t-1", JAN) and values == record_values(sis, None)
    assert ("family_name", "Nguyen", "Ng") in plan.diffs[pid]


@pytest.mark.parametrize("auto_update, no_update_roles, changes", [
    (True, frozenset(), True),
    (False, frozenset(), False),            # Auto update off: linked, nothing copied
    (True, frozenset({"teacher"}), False),  # teachers left out of Auto update: the same
])
def test_a_link_copies_sis_values_only_where_auto_update_may(auto_update, no_update_roles, changes):
    hand = person(role="teacher", email="t-1@sis.example.org", given_name="Made By Hand")
    plan, _ = run(index(hand), [record("t-1", role="teacher")], auto_update=auto_update,
                  no_update_roles=no_update_roles)
    [(_, _, values, _)] = plan.links
    assert (values is not None) == changes and (hand[0].id in plan.diffs) == changes


@pytest.mark.parametrize("case, directory, kind, message", [
    ("two people share the email",
     lambda: index(person(email="a@x.org"), person(email="A@x.org")), "ambiguous_link",
     "Several people here have the email a@x.org, so s-1 was not linked or created; give them distinct emails."),
    ("the match was archived here",
     lambda: index(person(email="a@x.org", status="archived", archived_by="manual")), "archived_here",
     "a@x.org was archived here but is active in the SIS; restore them by hand to sync them again."),
])
def test_a_record_that_cannot_be_linked_says_why_and_is_not_added(case, directory, kind, message):
    plan, found = run(directory(), [record("s-1", email="a@x.org")], auto_update=True)
    assert found == [("s-1", kind, message)]
    assert (plan.creates, plan.links, plan.counts["skipped"]) == ([], [], 1)


def test_a_match_excluded_from_sync_is_skipped_not_linked():
    plan, found = run(index(person(email="a@x.org", sync_enabled=False)), [record("s-1", email="a@x.org")])
    assert (found, plan.links, plan.creates, plan.counts["skipped"]) == ([], [], [], 1)


# ---- accounts that can sign in ------------------------------------------------------------------------

@pytest.mark.parametrize("account", [
    dict(role="owner"),                      # owners can always sign in, password or not
    dict(role="district_manager"),
    dict(role="teacher", signs_in=True),     # anyone with a password
])
def test_a_sign_in_account_is_never_linked_by_email_nor_doubled(account):
    owner = person(email="olive@school.org", given_name="Olive", family_name="Owner", **account)
    attack = record("aide-9", role="staff", email="OLIVE@school.org", given="Mallory", family="Intruder")
    plan, found = run(index(owner), [attack], auto_update=True)
    assert (plan.links, plan.creates, plan.updates, plan.diffs) == ([], [], [], {})
    assert found == [("aide-9", "sign_in_account",
                      "Mallory Intruder (aide-9) was neither added nor linked: its email olive@school.org matches "
                      "the sign-in account of Olive Owner (olive@school.org), and SIS data never changes an account "
                      "that can sign in. If they are the same person, link it by hand in People (Link to SIS "
                      "record, id aide-9); if not, give the SIS record its own email.")]


@pytest.mark.parametrize("directory, says", [
    (lambda: index(person("aide-1", role="teacher", signs_in=True, email="t@school.org", given_name="Tess",
                          family_name="Ng")),
     "matches the sign-in account of Tess Ng (t@school.org), which is already linked to SIS record aide-1."),
    (lambda: index(district_accounts=[("Dana Manager", "t@school.org")]),
     "matches the sign-in account of Dana Manager (t@school.org), a district manager."),
])
def test_a_new_record_with_the_email_of_a_linked_or_district_account_is_not_added(directory, says):
    plan, found = run(directory(), [record("new-1", email="t@school.org")], auto_update=True)
    assert plan.creates == [] and kinds(found) == ["sign_in_account"] and says in found[0][2]


ELSEWHERE = ("Olive Owner", "olive@a.example.org", "Alder Elementary")


@pytest.mark.parametrize("case, here, email, says", [
    ("an owner's email at another school", (), " Olive@A.example.org ",
     "matches the sign-in account of Olive Owner (olive@a.example.org) at Alder Elementary; SIS data never changes "
     "an account that can sign in, and People here cannot link an account of another school or district. If it "
     "is not them, give the SIS record its own email."),
    ("a manager of another district", (("Dana Manager", "dana@b.example.org", "Birch District"),),
     "DANA@b.example.org", "matches the sign-in account of Dana Manager (dana@b.example.org) at Birch District;"),
    ("someone here made by hand has it too", (person(email="olive@a.example.org"),), "olive@a.example.org",
     "at Alder Elementary;"),  # not linked either: the address is someone's sign-in elsewhere
    ("the account is also here and signs in", (person(email="olive@a.example.org", given_name="Olive",
                                                      family_name="Here", role="owner"),),
     "olive@a.example.org", "Olive Here (olive@a.example.org), and SIS data never changes"),  # here wins
])
def test_a_new_record_with_the_email_of_a_sign_in_account_elsewhere_is_neither_added_nor_linked(case, here, email,
                                                                                               says):
    people = [p for p in here if isinstance(p[0], Entry)]
    directory = index(*people, district_accounts=[ELSEWHERE] + [p for p in here if not isinstance(p[0], Entry)])
    plan, found = run(directory, [record("new-1", email=email.strip())], auto_update=True)
    assert (plan.creates, plan.links, plan.diffs) == ([], [], {}) and plan.counts["skipped"] == 1
    assert kinds(found) == ["sign_in_account"] and says in found[0][2], found


@pytest.mark.parametrize("case, directory, email, says", [
    ("a sign-in account here", lambda: index(person(email="olive@school.org", given_name="Olive", family_name="Owner",
                                                    role="owner")),
     "olive@school.org", "matches the sign-in account of Olive Owner (olive@school.org), and SIS data never gives"),
    ("a sign-in account elsewhere", lambda: index(district_accounts=[ELSEWHERE]), "OLIVE@a.example.org",
     "matches the sign-in account of Olive Owner (olive@a.example.org) at Alder Elementary, and SIS data never"),
])
def test_a_known_person_is_not_updated_to_the_email_of_a_sign_in_account(case, directory, email, says):
    directory = directory()
    aide = record("aide-2", role="staff", given="Al", family="Aide")
    directory.add(*person("aide-2", like=aide))
    plan, found = run(directory, [record("aide-2", role="staff", given="Al", family="Aide", email=email)],
                      auto_update=True)
    assert (plan.updates, plan.diffs) == ([], {}) and plan.counts["skipped"] == 1
    assert kinds(found) == ["sign_in_account"] and says in found[0][2] and "its own email" in found[0][2], found


@pytest.mark.parametrize("role", ["owner", "teacher"])
def test_a_linked_sign_in_account_is_never_updated_restored_or_archived(role):
    sis = record("t-1", role="teacher", given="Tess", email="t@school.org")
    changed = record("t-1", role="teacher", given="Mallory", email="attacker@evil.example")
    linked = person("t-1", like=sis, signs_in=True)
    if role == "owner":
        linked = person("t-1", role="owner", given_name="Tess", family_name="Lee", email="t@school.org",
                        username="t-1", sis_id="N-t-1")
    plan, _ = run(index(linked), [changed], auto_update=True, archive=True)
    assert (plan.updates, plan.diffs, plan.counts["skipped"]) == ([], {}, 1)
    for leaving in ([record("t-1", status="tobedeleted")], [record("t-1", enabled=False)], []):
        plan, _ = run(index(person("t-1", like=sis, signs_in=True)), leaving, archive=True)
        assert plan.archives == []
    archived = person("t-1", like=sis, signs_in=True, status="archived", archived_by="sync")
    plan, _ = run(index(archived), [sis], auto_update=True)
    assert plan.updates == []  # not restored


def test_an_owner_keeps_the_role_the_sis_would_give_them():
    sis = record("t-1", role="teacher")
    owner = person("t-1", role="owner", given_name="Ann", family_name="Lee", email="t-1@sis.example.org",
                   username="t-1", sis_id="N-t-1")
    plan, _ = run(index(owner), [sis], auto_update=True)
    assert totals(plan, unchanged=1, updated=0) == {"unchanged": 1, "updated": 0}


# ---- possible duplicates ------------------------------------------------------------------------------

@pytest.mark.parametrize("directory, incoming, says", [
    (lambda: index(person("s-1", email="ann@x.org", given_name="Ann", family_name="Lee")),
     record("s-2", email="ann@x.org", given="Anne"),
     "Possible duplicate: Anne Lee (s-2) was not added because the email ann@x.org already belongs to Ann Lee in "
     "People. If they are one person, the SIS has them twice; if not, fix the email in the SIS or in People, then "
     "sync again."),
    (lambda: index(person("s-1", sis_id="N-7", status="archived", archived_by="sync", given_name="Bo",
                          family_name="Day")),
     record("s-2", identifier="N-7"), "the SIS id N-7 already belongs to Bo Day (archived) in People."),
    (lambda: index(person(sis_id="N-7", email="other@x.org", given_name="Cy", family_name="Ro")),
     record("s-2", identifier="N-7"), "the SIS id N-7 already belongs to Cy Ro (added by hand) in People."),
])
def test_a_new_record_like_someone_here_is_reported_not_added(directory, incoming, says):
    plan, found = run(directory(), [incoming], auto_update=True)
    assert plan.creates == [] and plan.links == [] and plan.counts["skipped"] == 1
    [(sid, kind, message)] = found
    assert (sid, kind) == ("s-2", "possible_duplicate") and says in message


def test_two_new_records_with_one_email_add_only_the_first():
    plan, found = run(index(), [record("s-1", email="twin@x.org")], [record("s-2", email="twin@x.org")])
    assert [c[0] for c in plan.creates] == ["s-1"] and kinds(found) == ["possible_duplicate"]
    assert "another SIS record in this sync (s-1) has the same email twin@x.org" in found[0][2]


def test_a_new_record_may_not_take_the_email_someone_here_is_given_in_the_same_run():
    old = record("s-1", email="old@x.org")
    plan, found = run(index(person("s-1", like=old)), [record("s-1", email="new@x.org"),
                                                        record("s-2", email="new@x.org")], auto_update=True)
    assert totals(plan, updated=1, created=0) == {"updated": 1, "created": 0}
    assert kinds(found) == ["possible_duplicate"]


def test_the_same_sourced_id_twice_and_a_broken_record_are_issues():
    sis = record("s-1")
    plan, found = run(index(person("s-1", like=sis), person("s-2", like=record("s-2"))),
                      [sis, sis, RecordProblem("s-2", "No name.", '{"sourcedId": "s-2"}')], archive=True)
    assert kinds(found) == ["duplicate_source_id", "bad_record"]
    assert plan.archives == []  # s-2 was sent, broken: not missing


# ---- updates, exclusions, Additions only --------------------------------------------------------------

def test_a_changed_person_is_updated_field_by_field_and_an_unchanged_one_is_not():
    before, after, same = record("s-1", given="Ann"), record("s-1", given="Anna", modified=FEB), record("s-2")
    plan, _ = run(index(person("s-1", like=before), person("s-2", like=same)), [after, same], auto_update=True)
    [(pid, sid, _, modified, restore)] = plan.updates
    assert (sid, modified, restore) == ("s-1", FEB, False)
    assert plan.diffs[pid] == [("given_name", "Ann", "Anna")]
    assert plan.counts["unchanged"] == 1 and plan.high_water == FEB


def test_an_update_that_clears_a_name_or_email_is_applied_and_reported():
    """A SIS answer that leaves a field out (or nulls it) blanks it for everyone it leaves it out of: applied (the
    SIS is the source) but said, naming what was there."""
    before = record("s-1", given="Ann", email="ann@sis.example.org")
    after = record("s-1", given="", email="")
    plan, found = run(index(person("s-1", like=before)), [after], auto_update=True)
    assert len(plan.updates) == 1 and kinds(found) == ["value_cleared"]
    assert found[0][2] == ("Lee (s-1): the SIS sent no given name (was Ann) and email (was ann@sis.example.org), so "
                           "they were cleared here. If the SIS still has them, its API or export left the field "
                           "out: ask the SIS vendor, then sync again.")
    renamed = record("s-1", given="Anna", email="ann@sis.example.org")
    assert kinds(run(index(person("s-1", like=before)), [renamed], auto_update=True)[1]) == []


def test_an_update_giving_someone_the_email_another_person_here_has_is_reported():
    ann, ben = record("s-1", email="ann@sis.example.org"), record("s-2", given="Ben", email="ben@sis.example.org")
    ben_now = record("s-2", given="Ben", email="ann@sis.example.org")
    plan, found = run(index(person("s-1", like=ann), person("s-2", like=ben)), [ann, ben_now], auto_update=True)
    assert len(plan.updates) == 1 and kinds(found) == ["possible_duplicate"]
    assert "Ben Lee (s-2) now has the email ann@sis.example.org, which Ann Lee has too in People" in found[0][2]


@pytest.mark.parametrize("setup, options, updated", [
    (dict(), dict(auto_update=True), 1),
    (dict(), dict(auto_update=False), 0),                              # Auto update off
    (dict(sync_enabled=False), dict(auto_update=True), 0),             # the person is excluded from sync
    (dict(), dict(auto_update=True, no_update_roles=frozenset({"student"})), 0),  # their role is left out
])
def test_who_auto_update_changes(setup, options, updated):
    plan, _ = run(index(person("s-1", like=record("s-1"), **setup)), [record("s-1", given="Anna")], **options)
    assert totals(plan, updated=1, skipped=1) == {"updated": updated, "skipped": 1 - updated}


def test_someone_archived_by_the_sync_comes_back_when_the_sis_has_them_again():
    sis = record("s-1")
    plan, found = run(index(person("s-1", like=sis, status="archived", archived_by="sync")), [sis], auto_update=True)
    [(pid, _, _, _, restore)] = plan.updates
    assert restore and plan.diffs[pid] == [("status", "archived", "active")] and found == []


def test_someone_archived_by_hand_stays_archived_and_is_reported():
    sis = record("s-1", given="Ann", family="Lee")
    plan, found = run(index(person("s-1", like=sis, status="archived", archived_by="manual")), [sis],
                      auto_update=True)
    assert plan.updates == [] and found == [("s-1", "archived_here", "Ann Lee was archived here but is active in "
                                             "the SIS; restore them by hand to sync them again.")]


def test_additions_only_adds_newcomers_and_changes_or_archives_nobody():
    """Additions only reaches the planner as Auto update and Archive off (jobs.sync.options_for)."""
    stays, leaves = record("s-1"), record("s-2")
    plan, _ = run(index(person("s-1", like=stays), person("s-2", like=leaves)),
                  [record("s-1", given="Anna"), record("s-2", status="tobedeleted"), record("s-3")],
                  auto_update=False, archive=False)
    assert totals(plan, created=1, updated=0, archived=0, skipped=2) == {"created": 1, "updated": 0, "archived": 0,
                                                                        "skipped": 2}


# ---- leaving the roster and the archive guard ---------------------------------------------------------

def test_someone_absent_whom_a_refused_new_record_looks_like_is_kept_not_archived():
    """Excel dropped the leading zeros of a few ids (000003 became 3): the new record was refused as a duplicate of
    the person here, who was archived for being absent. Both records lost; now the person stays, with an issue."""
    here, other = record("000003", email="ann@sis.example.org"), record("000004", given="Ben")
    changed = record("3", email="ann@sis.example.org", identifier="N-000003")
    plan, found = run(index(person("000003", like=here), person("000004", like=other)), [changed, other],
                      archive=True)
    assert plan.archives == [] and plan.creates == [] and kinds(found) == ["possible_duplicate"]
    planner = Planner(index(person("000003", like=here), person("000004", like=other)),
                      SyncOptions(roles=ROLES, archive=True), FIELDS)
    planner.add_page([changed, other])
    [(sid, kind, said)] = planner.settle()  # the run writes these after the last page, before finish()
    assert (sid, kind) == ("000003", "possible_duplicate") and "kept, not archived" in said
    assert said.startswith("Ann Lee (000003) is no longer in the SIS's roster under that id, but the new record 3 "
                           "looks like them")
    assert planner.finish().archives == []


def test_the_guard_counts_only_roles_the_school_syncs():
    """A school syncing no teachers got a bundle of only teachers: its students were 'absent', the teachers in the
    guard's total kept 'everyone absent' from holding it, and every student was archived."""
    students = [person(f"s-{i}") for i in range(4)]
    plan, _ = run(index(*students, person("t-1", role="teacher")), [], archive=True,
                  roles=frozenset({"student"}))
    assert plan.rostered_total == 4 and len(plan.archives) == 4
    with pytest.raises(ArchiveGuardTripped, match="all 4 rostered people"):
        check_archive_guard(plan, 100.0, override=False)


@pytest.mark.parametrize("incoming, options, archived", [
    ([record("s-1", status="tobedeleted")], dict(archive=True), True),
    ([record("s-1", enabled=False)], dict(archive=True), True),             # enabledUser false counts as leaving
    ([], dict(archive=True), True),                                         # missing from a full fetch
    ([record("s-1", status="tobedeleted")], dict(archive=False), False),    # Archive off
    ([], dict(archive=True, full=False), False),                            # missing from a delta: not gone
    ([record("s-1", status="tobedeleted")], dict(archive=True, full=False), False),  # delta: only full runs archive
    ([], dict(archive=True, no_archive_roles=frozenset({"student"})), False),  # their role is left out of Archive
    ([], dict(archive=True, roles=frozenset({"teacher"})), False),          # students were not fetched
])
def test_who_is_archived(incoming, options, archived):
    plan, _ = run(index(person("s-1", like=record("s-1"))), incoming, **options)
    assert (plan.archives != []) == archived


def test_a_leaver_excluded_from_sync_or_already_archived_is_left_alone():
    gone = record("s-1", status="tobedeleted")
    plan, _ = run(index(person("s-1", like=record("s-1"), sync_enabled=False)), [gone], archive=True)
    assert (plan.archives, plan.counts["skipped"]) == ([], 1)
    plan, _ = run(index(person("s-1", like=record("s-1"), status="archived", archived_by="sync")), [gone],
                  archive=True)
    assert (plan.archives, plan.counts["unchanged"]) == ([], 1)
    plan, _ = run(index(), [gone])
    assert (plan.creates, plan.counts["skipped"]) == ([], 1)  # a newcomer who already left is not added


@pytest.mark.parametrize("missing, threshold, override, trips", [
    (1, 10, False, False),   # 1 of 10 archivable is 10%: not more than 10%
    (2, 10, False, True),
    (2, 20, False, False),
    (2, 10, True, False),    # an owner approved this run
    (9, 100, False, False),
    (10, 100, False, True),  # every archivable person absent: held whatever the threshold (a wrong School ID)
    (10, 100, True, False),
    (0, 0, False, False),    # nothing to archive never trips
])
def test_archive_guard_arithmetic(missing, threshold, override, trips):
    """10 students count; the owner and the teachers left out of Archive do not."""
    students = [record(f"s-{n}") for n in range(10)]
    teachers = [record(f"t-{n}", role="teacher") for n in range(5)]
    directory = index(*[person(r.source_id, like=r) for r in students + teachers],
                      person("o-1", role="owner", email="o@x.org"))
    plan, _ = run(directory, students[missing:] + teachers, archive=True, no_archive_roles=frozenset({"teacher",
                                                                                                      "owner"}))
    assert (plan.rostered_total, len(plan.archives)) == (10, missing)
    if trips:
        with pytest.raises(ArchiveGuardTripped) as tripped:
            check_archive_guard(plan, threshold, override)
        assert str(tripped.value).startswith(
            "This sync tried to archive all 10 rostered people, which is held whatever the threshold" if threshold == 100
            else f"This sync tried to archive {missing} of 10 rostered people ({missing * 10}%), more than the "
                 f"{threshold:g}% threshold.")
    else:
        check_archive_guard(plan, threshold, override)


@pytest.mark.parametrize("approved, missing, trips", [(3, 3, False), (3, 2, False), (3, 5, True), (None, 5, False)])
def test_an_approval_covers_only_as_many_archives_as_the_owner_was_shown(approved, missing, trips):
    """An approved run reads the roster again; it archived everyone missing, however many more than approved."""
    students = [record(f"s-{n}") for n in range(10)]
    plan, _ = run(index(*[person(r.source_id, like=r) for r in students]), students[missing:], archive=True)
    if not trips:
        check_archive_guard(plan, 10, True, approved)
        return
    with pytest.raises(ArchiveGuardTripped) as tripped:
        check_archive_guard(plan, 10, True, approved)
    assert "That is more than the 3 approved, so nothing was archived and the run waits for review again" in \
        str(tripped.value)


# ---- primary parent contact ---------------------------------------------------------------------------

@pytest.mark.parametrize("guardians, agents, contact", [
    ([parent("g-1", "guardian", given="Gia")], ["g-1"], ("Gia Lee", "g-1@family.example.org", "+1-555-0100")),
    ([parent("r-1", "relative", given="Rae"), parent("g-1", "parent", given="Gus")], ["r-1", "g-1"],
     ("Gus Lee", "g-1@family.example.org", "+1-555-0100")),                 # a relative only when no parent
    ([parent("g-1", given="First"), parent("g-2", given="Second")], ["g-2", "g-1"],
     ("Second Lee", "g-2@family.example.org", "+1-555-0100")),              # ties: first in the agents list
    ([parent("r-1", "relative", given="Rae")], ["r-1"], ("Rae Lee", "r-1@family.example.org", "+1-555-0100")),
    ([parent("g-1", status="tobedeleted")], ["g-1"], ("", "", "")),        # a guardian who left is nobody's
    ([], ["unknown"], ("", "", "")),
    # linked only from the guardian's side
    ([parent("g-1", given="Gia", agents=["s-1"])], [], ("Gia Lee", "g-1@family.example.org", "+1-555-0100")),
    # linked only from the guardians' side, by several: a relative first, then a parent (the parent wins)
    ([parent("r-1", "relative", given="Rae", agents=["s-1"]), parent("g-1", given="Gus", agents=["s-1"])], [],
     ("Gus Lee", "g-1@family.example.org", "+1-555-0100")),
    # the student's own agents come before guardians linked only from their side, on ties
    ([parent("g-1", given="Gus", agents=["s-1"]), parent("g-2", given="Gia")], ["g-2"],
     ("Gia Lee", "g-2@family.example.org", "+1-555-0100")),
    # both sides name the same guardian
    ([parent("g-1", given="Gia", agents=["s-1"])], ["g-1"], ("Gia Lee", "g-1@family.example.org", "+1-555-0100")),
    ([parent("g-1", given="")], ["g-1"], ("Lee", "g-1@family.example.org", "+1-555-0100")),  # one name only
    ([parent("g-1", given=" Gia ")], ["g-1"], (" Gia  Lee", "g-1@family.example.org", "+1-555-0100")),  # as sent
    # a separator typed into a guardian's name becomes a space (it once split the contact into four values)
    ([parent("g-1", given="Gia\x1fMae")], ["g-1"], ("Gia Mae Lee", "g-1@family.example.org", "+1-555-0100")),
])
def test_the_primary_parent_contact_is_chosen_by_rank_then_order(guardians, agents, contact):
    plan, _ = run(index(), guardians, [record("s-1", agents=agents)], parents=True)
    [(sid, packed, _)] = plan.creates
    assert tuple(packed.split("\x1f")[-3:]) == contact


def test_parent_contacts_are_compared_on_full_fetches_only():
    student = record("s-1", agents=["g-1"])
    here = person("s-1", like=student, parents=True)
    plan, _ = run(index(here), [parent("g-1")], [student], parents=True, auto_update=True)
    assert [d[0] for d in plan.diffs[here[0].id]] == ["parent_name", "parent_email", "parent_phone"]
    plan, _ = run(index(person("s-1", like=student)), [student], parents=True, auto_update=True, full=False)
    assert plan.fields == FIELDS and plan.updates == []  # a delta lacks unchanged guardians: not compared


# ---- the planner's promises ---------------------------------------------------------------------------

def test_importing_the_planner_loads_neither_flask_nor_sqlalchemy_nor_the_portal():
    code = ("import sys, jobs.plan, jobs.fields, jobs.parents; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'flask', 'sqlalchemy', 'portal'}))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


def test_field_limits_match_the_person_columns():
    from jobs.fields import LIMITS
    from store.models import Person
    assert LIMITS == {name: Person.__table__.c[name].type.length for name in FIELDS + PARENT_FIELDS}


def test_a_hand_typed_separator_in_the_directory_still_compares_and_diffs_exactly():
    sis = record("s-1", given="Ann Marie")
    odd = person("s-1", given_name="Ann\x1fMarie", email="s-1@sis.example.org", username="s-1", sis_id="N-s-1")
    assert isinstance(odd[0].values, tuple) and AMBIGUOUS == "ambiguous"
    plan, _ = run(index(odd), [sis], auto_update=True)
    assert plan.diffs[odd[0].id] == [("given_name", "Ann\x1fMarie", "Ann Marie")]
    assert pack(record_values(sis, None)).count("\x1f") == len(FIELDS) - 1


# ---- re-keying: the same people under new sourcedIds (a move to OneRoster 1.2) ---------------------------------

def moved(sid, old, legacy="", **changes):
    """A 1.2 record of the person `old` (a 1.1 record): same values, new sourcedId, Campus' legacy id optional."""
    return old._replace(source_id=sid, legacy_id=legacy, **changes)


def planned(directory, *pages, **options):
    """Like run(), with the issues found when re-keys are settled after the last page."""
    options = SyncOptions(**{"roles": ROLES, **options})
    planner = Planner(directory, options, FIELDS)
    found = [issue for page in pages for issue in planner.add_page(list(page))]
    plan = planner.finish()
    return plan, found + planner.late_issues


def test_campus_legacy_ids_re_key_people_instead_of_archiving_and_creating_them():
    ann, bo = record("s-1"), record("t-2", role="teacher", given="Bo")
    directory = index(person("s-1", like=ann), person("t-2", like=bo))
    ids = {sid: entry.id for sid, entry in directory.rostered.items()}
    plan, found = planned(directory, [moved("u-9", ann, legacy="s-1"), moved("u-8", bo, legacy="t-2")], archive=True)
    assert found == [] and plan.creates == [] and plan.archives == []
    assert sorted(plan.rekeys) == sorted([(ids["s-1"], "s-1", "u-9"), (ids["t-2"], "t-2", "u-8")])
    assert totals(plan, rekeyed=2, unchanged=2, created=0, archived=0) == {
        "rekeyed": 2, "unchanged": 2, "created": 0, "archived": 0}


def test_a_legacy_id_matches_the_old_id_without_its_role_prefix():
    # Campus: "if a (student) user's sourcedId in 1.1 was s123456, their legacy sourcedId would be 123456"
    old_student, old_aide = record("s123456"), record("a123456", role="staff", given="Ann")
    directory = index(person("s123456", like=old_student), person("a123456", like=old_aide))
    student_id = directory.rostered["s123456"].id
    plan, found = planned(directory, [moved("9f1e", old_student, legacy="123456")])
    assert found == [] and plan.rekeys == [(student_id, "s123456", "9f1e")]  # the person of the same role


def test_sis_id_and_email_re_key_only_on_the_full_sync_of_a_version_move():
    ann, cy = record("s-1"), record("s-2", given="Cy", email="cy@x.org")
    directory = lambda: index(person("s-1", like=ann), person("s-2", like=cy))  # noqa: E731
    by_id, by_email = moved("n-1", ann, email="new@x.org"), moved("n-2", cy, identifier="")
    plan, found = planned(directory(), [by_id, by_email], version_moved=True, archive=True)
    assert found == [] and [(old, new) for _, old, new in sorted(plan.rekeys, key=lambda r: r[2])] == [
        ("s-1", "n-1"), ("s-2", "n-2")] and plan.archives == []
    # Ann's email and Cy's SIS id change with the move; Auto update is off: re-keyed, their fields left as they were.
    assert totals(plan, rekeyed=2, skipped=2, updated=0) == {"rekeyed": 2, "skipped": 2, "updated": 0}
    for options in ({}, {"version_moved": True, "full": False}):  # no move, or a delta: possible duplicates, as before
        plan, found = planned(directory(), [by_id, by_email], **options)
        assert plan.rekeys == [] and kinds(found) == ["possible_duplicate", "possible_duplicate"]


def test_a_person_whose_old_id_comes_too_is_not_re_keyed_and_the_new_record_is_a_possible_duplicate():
    ann = record("s-1", email="ann@x.org")
    directory = index(person("s-1", like=ann))
    plan, found = planned(directory, [moved("u-9", ann, legacy="s-1")], [ann], version_moved=True, archive=True)
    assert plan.rekeys == [] and plan.creates == [] and plan.archives == []
    assert found == [("u-9", "possible_duplicate", "Possible duplicate: Ann Lee (u-9) was not added because the "
                      "legacy sourcedId s-1 already belongs to Ann Lee in People. If they are one person, the SIS has "
                      "them twice; if not, fix the legacy sourcedId in the SIS or in People, then sync again.")]
    assert totals(plan, unchanged=1, skipped=1, issues=1) == {"unchanged": 1, "skipped": 1, "issues": 1}


def test_two_new_records_never_re_key_one_person_twice():
    ann = record("s-1")
    plan, found = planned(index(person("s-1", like=ann)), [moved("u-1", ann), moved("u-2", ann)], version_moved=True)
    assert [new for _, _, new in plan.rekeys] == ["u-1"] and plan.creates == []
    assert kinds(found) == ["possible_duplicate"]


def test_a_sign_in_account_is_never_re_keyed():
    owner = record("s-1", given="Olive", email="olive@school.org")
    directory = index(person("s-1", like=owner, signs_in=True))
    plan, found = planned(directory, [moved("u-9", owner, legacy="s-1")], version_moved=True, auto_update=True)
    assert plan.rekeys == [] and plan.creates == [] and plan.updates == []
    [(sid, kind, message)] = found
    assert (sid, kind) == ("u-9", "sign_in_account")
    assert "under a new SIS id (was s-1)" in message and "Link to SIS record in People with id u-9" in message
    plan, found = planned(directory, [moved("u-9", owner)], version_moved=True, auto_update=True)  # by email
    assert plan.rekeys == [] and plan.creates == [] and kinds(found) == ["sign_in_account"]


def test_a_re_keyed_person_is_updated_under_the_new_id_when_auto_update_may():
    ann = record("s-1")
    directory = index(person("s-1", like=ann))
    pid = directory.rostered["s-1"].id
    plan, found = planned(directory, [moved("u-9", ann, given_name="Anna", legacy="s-1")], auto_update=True)
    assert found == [] and plan.rekeys == [(pid, "s-1", "u-9")]
    [(update_pid, sid, _, _, restore)] = plan.updates
    assert (update_pid, sid, restore) == (pid, "u-9", False) and plan.diffs[pid] == [("given_name", "Ann", "Anna")]


def test_a_sourced_id_too_long_to_store_is_an_issue_not_a_failed_sync():
    """A 300-character sourcedId would have failed the whole apply on PostgreSQL (varchar(255))."""
    long_id = "x" * 300
    plan, found = run(index(), [record("s-1"), record(long_id)], archive=True)
    assert [c[0] for c in plan.creates] == ["s-1"]
    assert kinds(found) == ["bad_record"]
    assert "300 characters long" in found[0][2] and "at most 255" in found[0][2]
    assert totals(plan, fetched=2, created=1, skipped=1) == {"fetched": 2, "created": 1, "skipped": 1}


def test_the_csv_readers_kept_lengths_are_the_person_tables():
    """Validation names a users.csv value longer than these (connectors can not import jobs)."""
    from connectors.csvbundle.spec import KEPT_CHARACTERS
    from jobs.fields import LIMITS
    names = {"givenName": "given_name", "familyName": "family_name", "middleName": "middle_name", "email": "email",
             "username": "username", "identifier": "sis_id", "phone": "phone"}
    assert {column: LIMITS[names[column]] for column in KEPT_CHARACTERS} == KEPT_CHARACTERS
