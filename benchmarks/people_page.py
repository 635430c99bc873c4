"""How fast People Manager answers with 100,000 people in one school (PostgreSQL or SQLite).

Usage: python benchmarks/people_page.py [DATABASE_URL] [--sqlite] [--explain]
  DATABASE_URL  default: PostgreSQL database `bench_people` (a PostgreSQL database is created when missing)
  --sqlite      a fresh SQLite file (instance/bench_people.db), the embedded default, instead of PostgreSQL
  --explain     also print PostgreSQL's EXPLAIN ANALYZE for the search queries (count and page)
"""
import statistics
import sys
import time
from pathlib import Path

from sqlalchemy import event, insert, make_url, text

sys.path.insert(0, ".")
from portal import create_app  # noqa: E402
from store.db import db  # noqa: E402
from store.models import District, Person, School  # noqa: E402
from portal.schema import rebuild_schema  # noqa: E402

PEOPLE = 100_000
SEARCHES = {  # q -> what it stands for in the load test
    "family0042": "search name",
    "p99999@": "search email",
    "smith": "search smith",  # 1,000 Smiths, as common as a real family name
    "smi": "search 3 chars",
    "given4242 family": "search 2 words",
    "family": "search all",  # matches every person: the trigram index cannot help, a scan must stay cheap
}


def _ensure_database(url: str) -> None:
    """Create the benchmark's PostgreSQL database when it does not exist yet."""
    name = make_url(url).database
    import psycopg
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def _family_name(i: int) -> str:
    return "Smith" if i % 100 == 7 else f"Family{i % 5000:04d}"


def _explain(school) -> None:
    """Print the plans PostgreSQL picks for each search's count and page queries."""
    from portal.people.directory import search_people
    statements = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if "FROM person" in statement:
            statements.append((statement, parameters))
    for q in SEARCHES:
        statements.clear()
        event.listen(db.engine, "before_cursor_execute", capture)
        try:
            search_people(school, q=q)
        finally:
            event.remove(db.engine, "before_cursor_execute", capture)
        with db.engine.connect() as conn, conn.connection.driver_connection.cursor() as cursor:
            for statement, parameters in statements:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + statement, parameters)
                print(f"--- q={q!r} {'count' if 'count(' in statement else 'page'}")
                for (line,) in cursor.fetchall():
                    print("   ", line)


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    default = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_people"
    if "--sqlite" in sys.argv:
        default = f"sqlite:///{Path('instance').resolve() / 'bench_people.db'}"
        Path("instance").mkdir(exist_ok=True)
    url = args[0] if args else default
    if url.startswith("postgresql"):
        _ensure_database(url)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "WTF_CSRF_ENABLED": False, "PORTAL_ENV": "test",
                      "REDIS_URL": "redis://127.0.0.1:6379/9"})
    with app.app_context():
        rebuild_schema()
        district = District(name="Bench", timezone="America/Chicago")
        school = School(district=district, name="Big High", slug="big")
        db.session.add_all([district, school])
        db.session.commit()
        start = time.perf_counter()
        rows = [dict(school_id=school.id, district_id=district.id, role=("student", "teacher", "staff")[i % 3],
                     given_name=f"Given{i}", family_name=_family_name(i), email=f"p{i}@big.org",
                     sis_id=f"{100000 + i}", source_id=f"s{i}", status="active", session_token="x")
                for i in range(PEOPLE)]
        for chunk in range(0, PEOPLE, 10_000):
            db.session.execute(insert(Person), rows[chunk:chunk + 10_000])
        owner = Person(school_id=school.id, district_id=district.id, role="owner", email="owner@big.org")
        owner.set_password("bench-password")
        db.session.add(owner)
        db.session.commit()
        inserted = time.perf_counter() - start
        trigram = []
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("ANALYZE person"))
                trigram = list(conn.scalars(text(
                    "SELECT indexname FROM pg_indexes WHERE tablename = 'person' AND indexdef LIKE '%gin_trgm_ops%' "
                    "ORDER BY indexname")))
        print(f"inserted {PEOPLE:,} people in {inserted:.1f}s ({db.engine.dialect.name}); "
              f"trigram indexes: {', '.join(trigram) or 'none'}")
        if "--explain" in sys.argv and db.engine.dialect.name == "postgresql":
            _explain(school)

    client = app.test_client()
    client.post("/login", data={"email": "owner@big.org", "password": "bench-password"})
    cases = {
        "first page": "/schools/big/people",
        "page 1000": "/schools/big/people?page=1000",
        "last page": "/schools/big/people?page=2001",
        "role filter": "/schools/big/people?role=teacher",
        "status filter": "/schools/big/people?status=active",
    }
    cases.update({name: f"/schools/big/people?q={q.replace(' ', '+')}" for q, name in SEARCHES.items()})
    print(f"{'request':<15} {'median ms':>10} {'p95 ms':>8}")
    for name, path in cases.items():
        times = []
        for _ in range(15):
            t = time.perf_counter()
            response = client.get(path)
            times.append((time.perf_counter() - t) * 1000)
            assert response.status_code == 200, (path, response.status_code)
        times.sort()
        print(f"{name:<15} {statistics.median(times):>10.1f} {times[int(len(times) * .95) - 1]:>8.1f}")


if __name__ == "__main__":
    main()
