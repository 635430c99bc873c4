"""People search on PostgreSQL goes through one trigram index over each person's search text (migration
c9e4a1f7b3d2): every field a user searches by still matches, and a big school's search reads the index, not the
school. Skipped on SQLite, whose search goes through person_search (test_people_search_sqlite.py)."""
import pytest
from sqlalchemy import insert, text

from portal.people.directory import _search_text_matches, search_people
from store.db import db
from store.models import Person
from tests.factories import make_school


@pytest.fixture
def pg_school(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's trigram index; SQLite has its own test")
    school = make_school(slug="search")
    other = make_school(slug="elsewhere")
    db.session.execute(insert(Person), [
        dict(school_id=s.id, district_id=s.district_id, role="student", given_name=f"Given{i}",
             family_name="Smith" if i % 10 == 3 else f"Family{i}", email=f"p{i}.kid@search{s.id}.org",
             sis_id=f"SIS-{9000 + i}", source_id=f"Stu-0810{i:03d}-1", status="active", session_token="x")
        for s in (school, other) for i in range(200)])
    db.session.commit()
    return school


def names(school, q):
    return sorted(p.given_name for p in search_people(school, q=q, per_page=500).items)


def test_every_field_a_user_searches_by_still_matches(pg_school):
    assert len(names(pg_school, "smith")) == 20 and names(pg_school, "MITH") == names(pg_school, "smith")
    assert names(pg_school, "given17") == ["Given17", *(f"Given{n}" for n in range(170, 180))]
    assert names(pg_school, "p17.kid") == ["Given17"]  # the email's part before the @
    assert names(pg_school, f"p17.kid@search{pg_school.id}.org") == ["Given17"]  # the whole email
    assert names(pg_school, "17.kid@") == ["Given117", "Given17"]  # a word with an @ matches the email as typed
    assert len(names(pg_school, f"@search{pg_school.id}.org")) == 200  # a domain, with its @
    assert names(pg_school, "sis-9017") == ["Given17"]
    assert names(pg_school, "stu-0810017-1") == ["Given17"]  # the sourcedId an issue links to, any case
    assert names(pg_school, "given42 family42") == ["Given42"]  # every word must match
    assert names(pg_school, "17 smith") == ["Given173"]  # a two-character word too


def test_a_word_never_matches_across_two_fields(pg_school):
    # "Given17" + "Family17" side by side would hold "17fam"; the text keeps a space between them
    assert names(pg_school, "17fam") == [] and names(pg_school, "given17family17") == []


def test_only_the_schools_own_people_match(pg_school):
    assert names(pg_school, "stu-0810017-1") == ["Given17"]  # the other school's Given17 is not listed
    assert search_people(pg_school, q="stu-0810017-1").total == 1


@pytest.mark.parametrize("word", ["smith", "p17.kid@search"])
def test_a_big_schools_search_reads_the_trigram_index(pg_school, word):
    """The condition search_people writes is the index's own expression (else every search reads the school)."""
    condition = _search_text_matches(word).compile(dialect=db.engine.dialect, compile_kwargs={"literal_binds": True})
    db.session.execute(text("SET LOCAL enable_seqscan = off"))  # 400 rows: make the planner show what it can use
    plan = "\n".join(db.session.execute(text(f"EXPLAIN SELECT id FROM person WHERE {condition}")).scalars())
    assert "ix_person_search_trgm" in plan, plan
