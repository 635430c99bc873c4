"""People search on PostgreSQL goes through one trigram index over each person's search text (migrations
c9e4a1f7b3d2, f3a7c1e9b5d2) and matches a sourcedId whole: every field a user searches by still matches, and a big
school's search reads the indexes, not the school. Skipped on SQLite, whose search goes through person_search (test_people_search_sqlite.py)."""
import pytest
from sqlalchemy import insert, text

from portal.people.directory import _word_conditions, search_people
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
    assert names(pg_school, "Stu-0810017-1") == ["Given17"]  # the sourcedId an issue links to, whole
    assert names(pg_school, "given42 family42") == ["Given42"]  # every word must match
    assert names(pg_school, "17 smith") == ["Given173"]  # a two-character word too


def test_a_word_never_matches_across_two_fields(pg_school):
    # "Given17" + "Family17" side by side would hold "17fam"; the text keeps a space between them
    assert names(pg_school, "17fam") == [] and names(pg_school, "given17family17") == []


def test_a_sourcedid_matches_whole_as_typed_or_in_lower_or_upper_case(pg_school):
    db.session.execute(insert(Person), [
        dict(school_id=pg_school.id, district_id=pg_school.district_id, role="teacher", given_name=given,
             family_name="Guid", email=f"{given}@search.org", sis_id=f"T-{given}", source_id=source_id,
             status="active", session_token="x")
        for given, source_id in (("Lower", "9f1c2e7a-0b3d-4e5f-8a6b-7c8d9e0f1a2b"),
                                 ("Upper", "5A0B1C2D-3E4F-4A5B-9C6D-7E8F9A0B1C2D"))])
    db.session.commit()
    assert names(pg_school, "9F1C2E7A-0B3D-4E5F-8A6B-7C8D9E0F1A2B") == ["Lower"]  # pasted in upper case
    assert names(pg_school, "5a0b1c2d-3e4f-4a5b-9c6d-7e8f9a0b1c2d") == ["Upper"]  # pasted in lower case
    assert names(pg_school, "9f1c2e7a-0b3d-4e5f-8a6b-7c8d9e0f1a2b guid") == ["Lower"]  # beside another word
    assert names(pg_school, "9f1c2e7a") == []  # a part of it is no search for it (nobody types one)


def test_only_the_schools_own_people_match(pg_school):
    assert names(pg_school, "Stu-0810017-1") == ["Given17"]  # the other school's Given17 is not listed
    assert search_people(pg_school, q="Stu-0810017-1").total == 1


@pytest.mark.parametrize("word", ["Smith", "p17.kid@search"])
def test_a_big_schools_search_reads_the_indexes(pg_school, word):
    """The conditions search_people writes are the indexes' own expressions (else every search reads the school)."""
    [condition], _ = _word_conditions([word])
    where = condition.compile(dialect=db.engine.dialect, compile_kwargs={"literal_binds": True})
    db.session.execute(text(  # a big school: 20,000 more people, so reading the school's own rows would cost
        "INSERT INTO person (school_id, district_id, role, given_name, middle_name, family_name, email, username,"
        " sis_id, grade, phone, parent_name, parent_email, parent_phone, status, archived_by, source_id,"
        " sync_enabled, session_token, sync_report_opt_in, created_at, updated_at)"
        " SELECT :school, :district, 'student', 'G' || md5(i::text), '', 'F' || md5((i * 7)::text),"
        " 'e' || i || '@big.org', '', 'B' || i, '', '', '', '', '', 'active', '', 'big-' || i, true, 'x', false,"
        " now(), now() FROM generate_series(1, 20000) i"), dict(school=pg_school.id, district=pg_school.district_id))
    db.session.execute(text("SELECT gin_clean_pending_list('ix_person_search_trgm')"))  # as (auto)vacuum would
    db.session.execute(text("ANALYZE person"))
    db.session.execute(text("SET LOCAL enable_seqscan = off"))  # one school is most of this table, not of a district's
    plan = "\n".join(db.session.execute(
        text(f"EXPLAIN SELECT id FROM person WHERE school_id = {pg_school.id} AND ({where})")).scalars())
    assert "ix_person_search_trgm" in plan and "uq_person_school_source" in plan, plan
