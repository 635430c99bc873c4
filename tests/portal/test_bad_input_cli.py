"""Operator commands given bad input answer with a clear message, never a traceback."""
import pytest

from store.db import db
from store.models import District, Person, School
from tests.factories import make_district, make_school
from tests.support import BAD_VALUES


def run(runner, *args):
    return runner.invoke(args=list(args))


def assert_refused(result, hint):
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    assert "Error: Invalid value" in result.output and hint in result.output


@pytest.mark.parametrize("kind", ["empty", "huge", "nul", "spaces"])
def test_create_district_refuses_bad_names(runner, kind):
    assert_refused(run(runner, "create-district", BAD_VALUES[kind]), "NAME")
    assert db.session.scalar(db.select(db.func.count(District.id))) == 0


@pytest.mark.parametrize("kind", BAD_VALUES)
def test_create_district_refuses_bad_time_zones(runner, kind):
    assert_refused(run(runner, "create-district", "North", "--timezone", BAD_VALUES[kind]), "--timezone")


@pytest.mark.parametrize("kind", ["unicode", "script", "sql"])
def test_create_district_keeps_odd_but_valid_names_verbatim(runner, kind):
    result = run(runner, "create-district", BAD_VALUES[kind])
    assert result.exit_code == 0, result.output
    assert db.session.scalar(db.select(District.name)) == BAD_VALUES[kind].strip()


@pytest.mark.parametrize("kind", BAD_VALUES)
def test_create_school_refuses_bad_values(runner, kind):
    make_district(name="North")
    value = BAD_VALUES[kind]
    assert_refused(run(runner, "create-school", "--district", value, "--name", "A", "--slug", "a"), "--district")
    assert_refused(run(runner, "create-school", "--district", "North", "--name", "A", "--slug", value), "--slug")
    if kind not in ("unicode", "script", "sql"):
        assert_refused(run(runner, "create-school", "--district", "North", "--name", value, "--slug", "a"),
                       "--name")
    assert db.session.scalar(db.select(db.func.count(School.id))) == 0


@pytest.mark.parametrize("kind", BAD_VALUES)
def test_create_user_refuses_bad_values(runner, kind):
    school = make_school(slug="north-high")
    value = BAD_VALUES[kind]
    base = ["create-user", "--role", "owner", "--school", school.slug]
    assert_refused(run(runner, *base, "--email", value, "--password", "long-enough-password"), "--email")
    if kind not in ("unicode", "script"):  # those two are long, varied passwords: fine
        assert_refused(run(runner, *base, "--email", "a@example.org", "--password", value), "--password")
    assert_refused(run(runner, "create-user", "--role", "owner", "--school", value, "--email", "a@example.org",
                       "--password", "long-enough-password"), "--school")
    assert_refused(run(runner, "create-user", "--role", "district_manager", "--district", value,
                       "--email", "a@example.org", "--password", "long-enough-password"), "--district")
    if kind in ("huge", "nul"):  # names are optional, but must fit and be printable
        assert_refused(run(runner, *base, "--email", "a@example.org", "--password", "long-enough-password",
                           "--given-name", value), "--given-name")
    assert db.session.scalar(db.select(db.func.count(Person.id))) == 0


def test_create_user_refuses_a_bad_role(runner):
    result = run(runner, "create-user", "--role", "<script>", "--email", "a@example.org", "--password", "x" * 12)
    assert result.exit_code == 2 and "Invalid value for '--role'" in result.output


def test_create_user_password_follows_the_sign_in_rules(runner):
    school = make_school(slug="north-high")
    result = run(runner, "create-user", "--role", "owner", "--school", school.slug, "--email", "a@example.org",
                 "--password", "a@example.org")
    assert_refused(result, "--password")


@pytest.mark.parametrize("kind", ["unicode", "script"])
def test_create_user_takes_any_long_varied_password(app, runner, kind):
    school = make_school(slug="north-high")
    result = run(runner, "create-user", "--role", "owner", "--school", school.slug, "--email", "a@example.org",
                 "--password", BAD_VALUES[kind])
    assert result.exit_code == 0, result.output
    assert db.session.scalar(db.select(Person)).check_password(BAD_VALUES[kind])


def test_slug_with_a_trailing_newline_is_refused(runner):
    make_district(name="North")
    result = run(runner, "create-school", "--district", "North", "--name", "A", "--slug", "north\n")
    assert_refused(result, "--slug")


def test_messages_quote_huge_values_briefly(runner):
    result = run(runner, "create-school", "--district", "x" * 100_000, "--name", "A", "--slug", "a")
    assert_refused(result, "No district named 'xxx")
    assert len(result.output) < 500


def test_a_slug_taken_while_create_school_runs_is_refused_without_a_traceback(runner, monkeypatch):
    """Another create-school (or the Sources page) took the slug after the check: the unique slug was a traceback."""
    district = make_district(name="North")
    scalar = db.session.scalar

    def taken_meanwhile(query):
        found = scalar(query)
        if found is None and "school.slug" in str(query):
            monkeypatch.setattr(db.session, "scalar", scalar)
            make_school(district, name="Other", slug="lincoln")
        return found

    monkeypatch.setattr(db.session, "scalar", taken_meanwhile)
    assert_refused(run(runner, "create-school", "--district", "North", "--name", "Lincoln", "--slug", "lincoln"),
                   "is taken")
    assert db.session.scalar(db.select(School.name).filter_by(slug="lincoln")) == "Other"
