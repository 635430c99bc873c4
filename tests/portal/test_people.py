import pytest

from store.db import db
from tests.factories import make_owner, make_person, make_school

pytestmark = pytest.mark.smoke


@pytest.fixture
def school_with_people(app, auth):
    school = make_school(slug="lincoln")
    owner = make_owner(school)
    for i in range(120):
        make_person(school, role="student" if i % 4 else "teacher", given_name=f"Student{i:03d}",
                    family_name=f"Zed{i:03d}", email=f"s{i:03d}@lincoln.org", sis_id=f"SIS{i:03d}",
                    source_id=f"src-{i}", commit=False)
    db.session.commit()
    make_person(school, role="staff", given_name="Zoë", family_name="O'Brien", email="zoe@lincoln.org")
    auth.login(owner.email)
    return school


def test_people_list_paginates(client, school_with_people):
    first = client.get("/schools/lincoln/people").get_data(as_text=True)
    assert "Showing 1–50 of 122 people" in first
    assert "Page 1 of 3" in first
    last = client.get("/schools/lincoln/people?page=3").get_data(as_text=True)
    assert "Showing 101–122 of 122 people" in last


def test_out_of_range_or_junk_page_numbers_are_clamped(client, school_with_people):
    assert "Page 3 of 3" in client.get("/schools/lincoln/people?page=999").get_data(as_text=True)
    assert "Page 1 of 3" in client.get("/schools/lincoln/people?page=abc").get_data(as_text=True)
    # past 4,300 digits Python's int() raises: the page was a 500
    assert "Page 1 of 3" in client.get("/schools/lincoln/people?page=" + "9" * 5000).get_data(as_text=True)


def test_search_by_name_email_or_sis_id(client, school_with_people):
    by_name = client.get("/schools/lincoln/people?q=zed007").get_data(as_text=True)
    assert "Showing 1–1 of 1 people" in by_name and "Student007" in by_name
    assert "Student042" in client.get("/schools/lincoln/people?q=sis042").get_data(as_text=True)
    accent = client.get("/schools/lincoln/people?q=o'brien").get_data(as_text=True)
    assert "Zoë" in accent


def test_search_treats_wildcards_literally(client, school_with_people):
    assert "No people match." in client.get("/schools/lincoln/people?q=%25").get_data(as_text=True)


def test_search_matches_percent_underscore_and_accents_as_typed(client, school_with_people):
    make_person(school_with_people, given_name="Ann", family_name="Lee", email="ann_lee@lincoln.org")
    make_person(school_with_people, given_name="Anna", family_name="Xu", email="annxlee@lincoln.org")
    make_person(school_with_people, given_name="Percy", family_name="Sign", sis_id="100%A")
    make_person(school_with_people, given_name="Plain", family_name="Number", sis_id="100XA")
    underscore = client.get("/schools/lincoln/people?q=ann_lee").get_data(as_text=True)
    assert "Showing 1–1 of 1 people" in underscore and "ann_lee@lincoln.org" in underscore
    percent = client.get("/schools/lincoln/people?q=100%25a").get_data(as_text=True)
    assert "Showing 1–1 of 1 people" in percent and "Percy" in percent
    accent = client.get("/schools/lincoln/people?q=ZOË").get_data(as_text=True)
    assert "Showing 1–1 of 1 people" in accent and "O&#39;Brien" in accent


@pytest.mark.parametrize("sort_matches_up_to", [0, 10_000])
def test_search_results_page_in_name_order(client, school_with_people, monkeypatch, sort_matches_up_to):
    # few matches are sorted on their own, many are read in name order: the pages look the same
    monkeypatch.setattr("portal.people.directory.SORT_MATCHES_UP_TO", sort_matches_up_to)
    page = client.get("/schools/lincoln/people?q=zed&page=3").get_data(as_text=True)
    assert "Showing 101–120 of 120 people" in page
    assert "Student099" not in page and page.index("Student100") < page.index("Student119")


def test_role_filter_and_source_column(client, school_with_people):
    page = client.get("/schools/lincoln/people?role=staff").get_data(as_text=True)
    assert "Showing 1–1 of 1 people" in page and "Added by hand" in page
    teachers = client.get("/schools/lincoln/people?role=teacher").get_data(as_text=True)
    assert "of 30 people" in teachers and "From the SIS" in teachers


def test_htmx_search_returns_only_the_table(client, school_with_people):
    response = client.get("/schools/lincoln/people?q=zed001",
                          headers={"HX-Request": "true", "HX-Target": "people-table"})
    body = response.get_data(as_text=True)
    assert "<html" not in body and "Student001" in body


def test_people_of_another_school_are_not_listed(client, school_with_people):
    other = make_school(school_with_people.district, slug="other")
    make_person(other, given_name="Hidden", family_name="Person")
    assert "Hidden" not in client.get("/schools/lincoln/people?q=hidden").get_data(as_text=True)


def test_people_page_runs_a_fixed_number_of_queries(app, client, school_with_people):
    from sqlalchemy import event
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        client.get("/schools/lincoln/people")
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    # user + school + count + page: no query per listed person
    assert len(statements) <= 6, statements
