"""A button whose request fails says so: htmx swaps no 403, 404 or 500 (nor a request that never got an answer), so
until now the button seemed to do nothing at all."""
import pytest
from playwright.sync_api import expect

from portal.rostering import service
from tests.factories import PASSWORD, make_district, make_owner, make_school
from tests.support import sandbox_fixture, sandbox_values, screenshot, sign_in

pytestmark = pytest.mark.browser

sis = sandbox_fixture(schools=1, students=5, seed=41, scope="module")
SERVER_ERROR = ("<!doctype html><html><body><main id=main><section class='card narrow'><h1>Something went wrong</h1>"
                "<p>The portal hit an unexpected error. Nothing was changed; please try again.</p></section></main>"
                "</body></html>")


@pytest.fixture
def rostering(page, app, sis):
    school = make_school(make_district(name="Bay Unified"), name="Bay High", slug="bay-high")
    service.save_connection(school, "oneroster", sandbox_values(sis), actor=None)
    owner = make_owner(school)
    sign_in(page, owner.email, PASSWORD)
    page.goto(f"/schools/{school.slug}/rostering")
    return page


def test_a_button_whose_request_fails_with_an_error_page_shows_what_the_page_says(rostering):
    page = rostering
    page.route("**/rostering/runs", lambda route: route.fulfill(status=500, body=SERVER_ERROR,
                                                                content_type="text/html"))
    page.get_by_role("button", name="Preview").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("The portal hit an unexpected error. Nothing was changed")
    expect(alert).to_contain_text("Reload the page")
    expect(page.get_by_role("heading", name="Something went wrong")).to_have_count(0)  # nothing swapped in
    screenshot(page, "request-error-500")


def test_a_button_whose_request_gets_no_answer_says_the_portal_could_not_be_reached(rostering):
    page = rostering
    page.route("**/rostering/runs", lambda route: route.abort("connectionrefused"))
    page.get_by_role("button", name="Sync now").click()
    expect(page.get_by_role("alert")).to_contain_text("could not be reached, so nothing was done")
    page.unroute("**/rostering/runs")
    page.get_by_role("button", name="Preview").click()  # the next press that works takes the message away
    expect(page.get_by_role("alert")).to_be_hidden()
