"""Loading a school's directory stays a lookup of the few sign-in accounts elsewhere, whatever the district's size
and whether or not PostgreSQL has statistics for the person table yet (autovacuum may be behind or off, and a
district's first night creates every school's people before anything analyses them)."""
import pytest

from jobs.directory import _elsewhere
from store.db import db
from store.models import Person
from tests.factories import make_person, make_school

PEOPLE = 20_000


def test_the_accounts_elsewhere_are_found_by_index_not_by_reading_every_person(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's planner")
    school, other = make_school(), make_school()
    owner = make_person(other, role="owner", password="x" * 12)
    model = make_person(other)
    columns = [c.name for c in Person.__table__.columns if c.name not in ("id", "source_id", "email")]
    listed = ", ".join(columns)
    # A big district that nothing has analysed yet (all in this transaction, rolled back at the end).
    db.session.execute(db.text(
        f"INSERT INTO person ({listed}, source_id, email) SELECT {listed}, 'sis-' || g, 'p' || g || '@example.org' "
        f"FROM person, generate_series(1, {PEOPLE}) g WHERE person.id = :id"), {"id": model.id})
    db.session.execute(db.text("DELETE FROM pg_statistic WHERE starelid = 'person'::regclass"))
    db.session.execute(db.text("UPDATE pg_class SET reltuples = -1 WHERE oid = 'person'::regclass"))
    try:
        query = _elsewhere(school.id, school.district_id)
        sql = query.compile(db.engine, compile_kwargs={"literal_binds": True})
        plan = "\n".join(db.session.execute(db.text(f"EXPLAIN {sql}")).scalars())
        assert "ix_person_sign_in" in plan and "Seq Scan on person" not in plan, plan
        found = db.session.execute(query).all()
        assert [row.email for row in found] == [owner.email]  # the other school's owner, and only them
    finally:
        db.session.rollback()
