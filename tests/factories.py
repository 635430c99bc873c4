"""Plain factory functions for test data (no fixture chains)."""
import itertools

from store.db import db
from store.models import District, Person, School

_seq = itertools.count(1)
PASSWORD = "correct-horse-battery"


def make_district(name=None, timezone="America/Los_Angeles") -> District:
    district = District(name=name or f"District {next(_seq)}", timezone=timezone)
    db.session.add(district)
    db.session.commit()
    return district


def make_school(district=None, name=None, slug=None) -> School:
    n = next(_seq)
    school = School(district=district or make_district(), name=name or f"School {n}", slug=slug or f"school-{n}")
    db.session.add(school)
    db.session.commit()
    return school


def make_person(school=None, role="student", password=None, **fields) -> Person:
    n = next(_seq)
    fields.setdefault("given_name", f"Given{n}")
    fields.setdefault("family_name", f"Family{n}")
    fields.setdefault("email", f"person{n}@example.org")
    person = Person(role=role, school_id=school.id if school else None,
                    district_id=school.district_id if school else None, **fields)
    if password:
        person.set_password(password)
    db.session.add(person)
    db.session.commit()
    return person


def make_owner(school, email=None) -> Person:
    return make_person(school, role="owner", password=PASSWORD, email=email or f"owner{next(_seq)}@example.org")


def make_district_manager(district, email=None) -> Person:
    person = Person(role="district_manager", district_id=district.id, given_name="Dana", family_name="Manager",
                    email=email or f"dm{next(_seq)}@example.org")
    person.set_password(PASSWORD)
    db.session.add(person)
    db.session.commit()
    return person
