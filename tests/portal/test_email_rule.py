"""One email rule (issue 12, finding 9): what create-user accepts, the sign-in form finds, and every form
agrees on what an email address is, special-use domains included."""
import pytest

try:
    from portal.auth.emails import email_problem
except ImportError:  # the old code (before the one rule) for the red run
    email_problem = lambda value: "e.g. name@school.org"
from tests.support import csrf_token
from tests.factories import PASSWORD, make_school

pytestmark = pytest.mark.smoke

DIRECTORY_DOMAINS = ["owner@school.test", "owner@district.local", "it.owner@ad.district.internal",
                     "owner@localhost"]


def create_user(runner, school, email):
    return runner.invoke(args=["create-user", "--email", email, "--password", PASSWORD, "--role", "owner",
                               "--school", school.slug])


@pytest.mark.parametrize("email", DIRECTORY_DOMAINS)
def test_an_account_on_a_directory_domain_can_sign_in(client, runner, email):
    school = make_school()
    created = create_user(runner, school, email)
    assert created.exit_code == 0, created.output
    token = csrf_token(client)
    response = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)[:400]
    assert f"/schools/{school.slug}" in client.get("/").headers["Location"]


def test_the_address_is_looked_up_as_typed_trimmed_and_case_folded(client, runner):
    school = make_school()
    assert create_user(runner, school, "  Owner.Name@School.TEST ").exit_code == 0
    token = csrf_token(client)
    response = client.post("/login", data={"email": "\towner.name@school.test  ", "password": PASSWORD,
                                           "csrf_token": token})
    assert response.status_code == 302


def test_a_mistyped_address_at_sign_in_is_the_usual_wrong_credentials_answer(client):
    token = csrf_token(client)
    response = client.post("/login", data={"email": "owner@@school", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 401 and "Email or password is incorrect." in response.get_data(as_text=True)


NOT_EMAILS = ["not-an-email", "owner@", "@school.test", "two@at@school.test", "owner@school..test",
              "own er@school.test", "owner@-school.test"]


@pytest.mark.parametrize("value", NOT_EMAILS)
def test_create_user_and_the_reset_form_refuse_the_same_addresses_with_the_same_words(client, runner, value):
    problem = email_problem(value)
    assert problem and "e.g. name@school.org" in problem
    school = make_school()
    refused = create_user(runner, school, value)
    assert refused.exit_code != 0 and problem in " ".join(refused.output.split())
    token = csrf_token(client, "/reset")
    page = client.post("/reset", data={"email": value, "csrf_token": token})
    assert page.status_code == 422 and problem in page.get_data(as_text=True).replace("&#39;", "'")


@pytest.mark.parametrize("value", DIRECTORY_DOMAINS + ["Mixed.Case@Example.org", "o'brien+x@school.org"])
def test_the_rule_accepts_directory_and_ordinary_addresses(value):
    assert email_problem(value) is None
