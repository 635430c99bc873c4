"""After sign-out no student email is left in the browser's storage (finding 7: htmx's history cache)."""
import pytest
from playwright.sync_api import expect

from store.db import db
from store.models import Person
from tests.support import screenshot, sign_in
from tests.factories import PASSWORD, make_owner, make_school

pytestmark = pytest.mark.browser
STORAGE = "() => JSON.stringify([Object.entries(sessionStorage), Object.entries(localStorage)])"


@pytest.fixture
def school(app):
    school = make_school(name="Harbor High", slug="harbor-high")
    db.session.add_all(Person(school_id=school.id, district_id=school.district_id, role="student",
                              given_name=f"Pupil{i:03d}", family_name=f"Harbor{i:03d}",
                              email=f"pupil{i:03d}@students.harbor.test") for i in range(60))
    db.session.commit()
    return school


def test_people_pages_leave_no_student_email_in_storage_after_sign_out(page, school):
    owner = make_owner(school)
    sign_in(page, owner.email, PASSWORD)
    page.goto(f"/schools/{school.slug}/people")
    expect(page.locator("table.people")).to_contain_text("pupil000@students.harbor.test")
    page.get_by_role("link", name="Next →").click()  # htmx swaps the table and pushes the URL: a snapshot point
    expect(page.locator("#people-count")).to_contain_text("Showing 51–")
    expect(page).to_have_url(f"{page.url.split('?')[0]}?page=2&q=&role=&status=")
    stored = page.evaluate(STORAGE)
    assert "students.harbor.test" not in stored, "htmx kept a page snapshot while signed in"

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_load_state()
    stored = page.evaluate(STORAGE)
    assert "students.harbor.test" not in stored and "htmx-history-cache" not in stored
    page.go_back()  # the browser may not show People from its own cache either
    page.wait_for_load_state()
    assert "students.harbor.test" not in page.content()
    screenshot(page, "20-signed-out-back-button")
