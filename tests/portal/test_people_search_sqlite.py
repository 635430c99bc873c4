"""Issue 17 item 20: People search on SQLite goes through the FTS5 trigram table that triggers keep in step.

Runs on its own SQLite file whatever TEST_DATABASE_URL says, because the table exists only there.
"""
import pytest
from sqlalchemy import event, insert, text

from portal.people.directory import search_people
from store.db import db
from store.models import Person
from tests.support import sqlite_school as fresh_sqlite_school

pytestmark = pytest.mark.smoke


@pytest.fixture
def sqlite_school(tmp_path):
    with fresh_sqlite_school(tmp_path / "search.db", "Search", "search") as school:
        db.session.execute(insert(Person), [
            dict(school_id=school.id, district_id=school.district_id, role="student", given_name=f"Given{i}",
                 family_name="Smith" if i % 10 == 3 else f"Family{i}", email=f"p{i}@search.org", sis_id=f"{9000 + i}",
                 source_id=f"stu-0810{i:03d}-1", status="active", session_token="x")
            for i in range(200)])
        db.session.commit()
        yield school


def names(school, q):
    return sorted(p.given_name for p in search_people(school, q=q, per_page=500).items)


def test_search_is_served_by_the_fts5_table(sqlite_school):
    statements = []
    event.listen(db.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    page = search_people(sqlite_school, q="smith")
    assert page.total == 20 and all(p.family_name == "Smith" for p in page.items)
    assert any("person_search MATCH" in s for s in statements)
    assert db.session.scalar(text("SELECT count(*) FROM person_search")) == 200


def test_substrings_of_names_emails_sis_ids_and_sourced_ids_match(sqlite_school):
    assert names(sqlite_school, "MITH") == names(sqlite_school, "smith")  # any case, inside the word
    assert names(sqlite_school, "p17@search") == ["Given17"]
    assert names(sqlite_school, "9017") == ["Given17"]
    assert names(sqlite_school, "stu-0810017-1") == ["Given17"]  # the sourcedId an issue or the email shows
    assert names(sqlite_school, "given42 family42") == ["Given42"]  # every word must match
    assert names(sqlite_school, 'smith "') == []  # a quote is searched for, never a syntax error


def test_short_words_still_match_without_the_index(sqlite_school):
    assert "Given17" in names(sqlite_school, "17")  # two characters: FTS5's trigrams cannot, LIKE does
    assert names(sqlite_school, "17 smith") == ["Given173"]
    assert names(sqlite_school, "13 smith") == ["Given113", "Given13", "Given133"]


def test_triggers_keep_the_index_in_step_with_edits_and_deletes(sqlite_school):
    person = db.session.scalar(db.select(Person).filter_by(given_name="Given42"))
    person.family_name = "Oakley"
    db.session.commit()
    assert names(sqlite_school, "oakley") == ["Given42"] and names(sqlite_school, "family42") == []
    db.session.delete(person)
    db.session.commit()
    assert names(sqlite_school, "oakley") == []
