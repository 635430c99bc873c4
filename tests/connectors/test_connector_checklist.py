"""The Test connection checklist against the sandbox SIS."""
import time

import pytest

from connectors.checklist import SCOPE_FIX, headline, run_connection_test
from tests.support import running_sandbox, sandbox_fixture

from connector_helpers import CONFIGS


def by_key(rows):
    return {row.key: row for row in rows}


def no_secret(rows, secret):
    return all(secret not in f"{r.label} {r.detail} {r.fix}" for r in rows)


aeries = sandbox_fixture("aeries", schools=3, students=60, seed=2)
any_vendor = sandbox_fixture(configs=CONFIGS, schools=3, students=60, seed=2)


def test_good_settings_pass_every_row(any_vendor):
    rows = run_connection_test(any_vendor.settings(1))
    assert [r.status for r in rows] == ["ok"] * 9, [(r.key, r.detail) for r in rows if r.status != "ok"]
    assert [r.key for r in rows] == ["token", "school", "read:students", "read:teachers", "read:users",
                                     "read:terms", "read:courses", "read:classes", "read:enrollments"]
    assert [r.optional for r in rows] == [False] * 5 + [True] * 4
    assert headline(rows) == "Connection works: every check passed."


def test_every_row_says_what_it_reads_so_no_two_read_alike(aeries):
    """Aeries' permission names alone gave "Classes and Master Schedule" and "Master Schedule and Classes", and
    "Student Data" beside "Student Data, Teacher Data and Staff Data": rows that looked repeated."""
    rows = by_key(run_connection_test(aeries.settings()))
    assert rows["read:classes"].label == "Optional: classes (Classes and Master Schedule)"
    assert rows["read:enrollments"].label == "Optional: enrollments (Master Schedule and Classes)"
    assert rows["read:users"].label == ("Read access: staff, administrators and parents "
                                        "(Student Data, Teacher Data and Staff Data)")
    words = [frozenset(row.label.replace(",", "").split()) for row in rows.values()]
    assert len(set(words)) == len(words), [row.label for row in rows.values()]


def test_denied_area_names_the_aeries_permission(aeries):
    aeries.set_faults(deny=["teachers", "users"])  # the school's, the global and the users listing
    rows = by_key(run_connection_test(aeries.settings()))
    row = rows["read:teachers"]
    assert (row.status, row.label) == ("denied", "Read access: teachers (Teacher Data)")
    assert row.fix == "Enable READ for Teacher Data on the Aeries API Security page, then do a full IIS reset."
    assert rows["read:students"].status == "ok"


def test_a_school_listing_that_returns_other_schools_people_is_named_with_the_listing_the_sync_reads(aeries):
    aeries.set_faults(scope_ignored=["schools/*/students"])  # the district's students for any school
    rows = by_key(run_connection_test(aeries.settings()))
    row = rows["read:students"]
    sid = aeries.settings().school_id
    assert row.status == "ok", row.detail
    assert f"schools/{sid}/students returned people of other schools for this school's listing (" in row.detail
    assert row.detail.endswith("so the sync reads students and keeps this school's students."), row.detail
    assert "returned people of other schools" not in rows["read:teachers"].detail


def test_wrong_school_id_lists_the_real_ones(aeries):
    settings = aeries.settings().__class__(**{**aeries.settings().__dict__, "school_id": "7"})
    rows = by_key(run_connection_test(settings))
    assert rows["school"].status == "failed"
    assert rows["school"].detail == "The School ID 7 is not among this SIS's schools: 1, 5, 994."
    assert rows["read:students"].status == "skipped" and rows["read:users"].status == "ok"


def test_the_districts_own_org_as_the_school_id_is_named_as_the_district(aeries):
    """Aeries' district is org "0": typed as the School ID it was only "not among this SIS's schools"."""
    settings = aeries.settings().__class__(**{**aeries.settings().__dict__, "school_id": "0"})
    rows = by_key(run_connection_test(settings))
    assert rows["school"].status == "failed"
    assert rows["school"].detail == ("The School ID 0 is Sandbox Unified School District in this SIS, an org of type "
                                     "district, not a school. Enter the ID of the school itself; this SIS's schools "
                                     "are: 1, 5, 994.")


@pytest.mark.parametrize("typed, said", [
    ("sch2", "The School ID sch2 is the identifier of García Middle School in this SIS, not its sourcedId, which "
             "people's records name: enter school-002 as the School ID."),
    ("Müller High School", "The School ID Müller High School is a school's name in this SIS, not its sourcedId, "
                           "which people's records name: enter school-003 as the School ID."),
])
def test_a_school_number_or_name_typed_as_the_school_id_names_the_sourcedid_to_enter(typed, said):
    """A school number (the org's identifier) or its name was answered with the bare list of sourcedIds, which
    do not say which one is the school the user meant."""
    with running_sandbox("oneroster", schools=3, students=20, seed=2) as box:
        good = box.settings()
        rows = by_key(run_connection_test(good.__class__(**{**good.__dict__, "school_id": typed})))
    assert (rows["school"].status, rows["school"].detail) == ("failed", said)
    assert rows["school"].fix == "Use this school's sourcedId exactly as the SIS reports it."


def test_refused_secret_skips_the_rest_without_showing_the_secret(aeries):
    good = aeries.settings()
    bad = good.__class__(**{**good.__dict__, "client_secret": "wrong-secret-123"})
    rows = run_connection_test(bad)
    assert rows[0].key == "token" and rows[0].status == "failed"
    assert "refused the Client ID and Secret (HTTP 401" in rows[0].detail
    assert rows[0].fix == "Check the Consumer ID and Secret Key on Aeries' API Security page."
    assert {r.status for r in rows[1:]} == {"skipped"}
    assert no_secret(rows, "wrong-secret-123") and no_secret(rows, good.client_secret)


def test_hanging_server_finishes_within_the_deadline(aeries):
    aeries.set_faults(hang=30)
    started = time.monotonic()
    rows = run_connection_test(aeries.settings(), deadline_seconds=1.5)
    assert time.monotonic() - started < 3
    assert len(rows) == 9 and rows[0].status == "failed" and rows[0].detail.startswith("Timed out")
    assert {r.status for r in rows[1:]} == {"skipped"}


def test_rows_left_at_the_deadline_are_failed_timed_out(aeries):
    aeries.set_faults(slow={"path": "students", "page": 0, "seconds": 30})
    rows = by_key(run_connection_test(aeries.settings(), deadline_seconds=1.5))
    assert rows["token"].status == "ok" and rows["school"].status == "ok"
    assert rows["read:students"].status == "failed"
    assert rows["read:enrollments"].status == "failed" and "Timed out" in rows["read:enrollments"].detail
    assert rows["read:enrollments"].optional and not rows["read:enrollments"].fails


def test_slow_but_answering_server_passes(aeries):
    aeries.set_faults(slow={"path": "students", "page": 0, "seconds": 0.5})
    assert {r.status for r in run_connection_test(aeries.settings())} == {"ok"}


def test_a_server_without_school_enrollments_passes_with_an_optional_row(aeries):
    """Aeries-like: schools/{id}/enrollments is not offered; the people sync never reads it."""
    aeries.set_faults(refuse_listings=["schools/*/enrollments", "schools/*/classes"], refuse_how="unsupported")
    rows = run_connection_test(aeries.settings())
    by = by_key(rows)
    assert by["read:enrollments"].status == "failed" and by["read:enrollments"].optional
    assert "does not fail the test" in by["read:enrollments"].detail
    assert not any(r.fails for r in rows)
    assert headline(rows) == "Connection works: every check the sync needs passed."


def test_people_rows_test_the_fallback_listing_the_sync_will_read(aeries):
    aeries.set_faults(refuse_listings=["schools/*/students", "schools/*/teachers"], refuse_how="iis")
    by = by_key(run_connection_test(aeries.settings()))
    assert by["read:students"].status == "ok"
    assert by["read:students"].detail == (
        "Read a record from students: schools/994/students is not offered by this SIS (HTTP 404), so the sync "
        "reads students and keeps this school's students.")


def test_headline_counts_only_real_failures(aeries):
    good = aeries.settings()
    rows = run_connection_test(good.__class__(**{**good.__dict__, "client_secret": "wrong-secret-123"}))
    assert [r.status for r in rows].count("skipped") == 8
    assert headline(rows) == "1 check failed."


def test_a_refused_scope_on_the_token_row_says_what_to_ask_for(aeries):
    aeries.set_faults(scopes_granted=[])
    rows = run_connection_test(aeries.settings())
    assert rows[0].status == "failed" and rows[0].fix == SCOPE_FIX
    assert rows[0].detail.startswith("The district granted this client less than it needs: ask")
    assert "Consumer ID" not in rows[0].fix


def test_a_school_listing_denied_for_scope_names_the_missing_scope(aeries):
    aeries.set_faults(refuse_listings=["schools/*/teachers", "teachers", "users"], refuse_how="forbidden")
    by = by_key(run_connection_test(aeries.settings()))
    assert by["read:teachers"].status == "denied" and by["read:teachers"].fix == SCOPE_FIX
    assert headline(list(by.values())) == "2 checks failed."  # teachers and users; students still pass


def test_a_sis_asking_to_wait_longer_than_the_test_may_take_says_so_at_once(aeries):
    """A Retry-After of a minute against a 20-second test: said at once, not waited out nor 'timed out'."""
    aeries.set_faults(rate_limit_storm=1, retry_after=60)
    started = time.monotonic()
    rows = by_key(run_connection_test(aeries.settings()))
    assert time.monotonic() - started < 10
    failed = [row for row in rows.values() if row.status == "failed"]
    assert failed and "asked the portal to wait 60 seconds before trying again, but this must finish within" in \
        failed[0].detail and "ask the SIS vendor about the rate limits" in failed[0].detail
