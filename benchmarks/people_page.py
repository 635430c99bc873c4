"""How fast People Manager answers with 100,000 people in one school (PostgreSQL or SQLite).

Usage: python benchmarks/people_page.py [DATABASE_URL]   (default: PostgreSQL database `bench_people`)
"""
import statistics
import sys
import time

from sqlalchemy import insert, text

sys.path.insert(0, ".")
from portal import create_app  # noqa: E402
from portal.extensions import db  # noqa: E402
from portal.models import District, Person, School  # noqa: E402
from portal.schema import rebuild_schema  # noqa: E402

PEOPLE = 100_000


def main() -> None:
    url = sys.argv[1] if len(sys.argv) > 1 else "postgresql+psycopg://postgres@127.0.0.1:5432/bench_people"
    if url.startswith("postgresql"):
        import psycopg
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname='bench_people'").fetchone():
                conn.execute("CREATE DATABASE bench_people")
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
                     given_name=f"Given{i}", family_name=f"Family{i % 5000:04d}", email=f"p{i}@big.org",
                     sis_id=f"{100000 + i}", source_id=f"s{i}", status="active", session_token="x")
                for i in range(PEOPLE)]
        for chunk in range(0, PEOPLE, 10_000):
            db.session.execute(insert(Person), rows[chunk:chunk + 10_000])
        owner = Person(school_id=school.id, district_id=district.id, role="owner", email="owner@big.org")
        owner.set_password("bench-password")
        db.session.add(owner)
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("ANALYZE person"))
        print(f"inserted {PEOPLE:,} people in {time.perf_counter() - start:.1f}s ({db.engine.dialect.name})")

    client = app.test_client()
    client.post("/login", data={"email": "owner@big.org", "password": "bench-password"})
    cases = {
        "first page": "/schools/big/people",
        "page 1000": "/schools/big/people?page=1000",
        "last page": "/schools/big/people?page=2001",
        "search name": "/schools/big/people?q=family0042",
        "search email": "/schools/big/people?q=p99999@",
        "role filter": "/schools/big/people?role=teacher",
    }
    print(f"{'request':<14} {'median ms':>10} {'p95 ms':>8}")
    for name, path in cases.items():
        times = []
        for _ in range(15):
            t = time.perf_counter()
            response = client.get(path)
            times.append((time.perf_counter() - t) * 1000)
            assert response.status_code == 200, (path, response.status_code)
        times.sort()
        print(f"{name:<14} {statistics.median(times):>10.1f} {times[int(len(times) * .95) - 1]:>8.1f}")


if __name__ == "__main__":
    main()
