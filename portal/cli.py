"""Operator commands: create districts, schools and users, and seed the demo."""
import re
import secrets
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
from flask import Flask

from .extensions import db
from .models import District, Person, School

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,78}$")
LOGIN_ROLES = ("owner", "district_manager", "teacher", "staff", "student", "school_admin")


def create_district(name: str, timezone: str) -> District:
    name = name.strip()
    if not name or len(name) > 200:
        raise click.BadParameter("Give the district a name of 1 to 200 characters.", param_hint="NAME")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise click.BadParameter(f"{timezone!r} is not a time zone; use one like America/Los_Angeles.",
                                 param_hint="--timezone")
    if db.session.scalar(db.select(District).filter_by(name=name)):
        raise click.BadParameter(f"A district named {name!r} already exists.", param_hint="NAME")
    district = District(name=name, timezone=timezone)
    db.session.add(district)
    db.session.commit()
    return district


def create_school(district_name: str, name: str, slug: str) -> School:
    district = db.session.scalar(db.select(District).filter_by(name=district_name))
    if district is None:
        raise click.BadParameter(f"No district named {district_name!r}; create it first.", param_hint="--district")
    if not name.strip() or len(name) > 200:
        raise click.BadParameter("Give the school a name of 1 to 200 characters.", param_hint="--name")
    if not SLUG_RE.match(slug):
        raise click.BadParameter("Use lower-case letters, digits and dashes for the slug, e.g. lincoln-high.",
                                 param_hint="--slug")
    if db.session.scalar(db.select(School).filter_by(slug=slug)):
        raise click.BadParameter(f"The slug {slug!r} is taken.", param_hint="--slug")
    school = School(district=district, name=name.strip(), slug=slug)
    db.session.add(school)
    db.session.commit()
    return school


def create_user(email: str, password: str, role: str, school_slug: str | None, district_name: str | None,
                given_name: str = "", family_name: str = "") -> Person:
    email = email.strip().lower()
    if "@" not in email or len(email) > 320:
        raise click.BadParameter("Give a valid email address.", param_hint="--email")
    if len(password) < 8:
        raise click.BadParameter("Use a password of at least 8 characters.", param_hint="--password")
    if db.session.scalar(db.select(Person).where(Person.email == email, Person.password_hash.is_not(None))):
        raise click.BadParameter(f"An account with {email} already exists.", param_hint="--email")
    person = Person(email=email, role=role, given_name=given_name, family_name=family_name)
    if role == "district_manager":
        district = db.session.scalar(db.select(District).filter_by(name=district_name or ""))
        if district is None:
            raise click.BadParameter("A district manager needs --district NAME of an existing district.",
                                     param_hint="--district")
        person.district_id = district.id
    else:
        school = db.session.scalar(db.select(School).filter_by(slug=school_slug or ""))
        if school is None:
            raise click.BadParameter(f"This role needs --school SLUG of an existing school.", param_hint="--school")
        person.school_id = school.id
        person.district_id = school.district_id
    person.set_password(password)
    db.session.add(person)
    db.session.commit()
    return person


def seed_demo() -> dict:
    """A demo district with two schools, an owner and a district manager (idempotent)."""
    district = db.session.scalar(db.select(District).filter_by(name="Demo Unified"))
    if district is None:
        district = create_district("Demo Unified", "America/Los_Angeles")
    schools = {}
    for slug, name in (("lincoln-high", "Lincoln High School"), ("roosevelt-middle", "Roosevelt Middle School")):
        schools[slug] = db.session.scalar(db.select(School).filter_by(slug=slug)) or create_school(
            district.name, name, slug)
    logins = {}
    for email, role, first, last, where in (
        ("owner@demo.school", "owner", "Olivia", "Owner", {"school_slug": "lincoln-high"}),
        ("manager@demo.school", "district_manager", "Marcus", "Manager", {"district_name": district.name}),
    ):
        person = db.session.scalar(db.select(Person).filter_by(email=email))
        password = "demo-" + secrets.token_hex(4)
        if person is None:
            create_user(email, password, role, where.get("school_slug"), where.get("district_name"), first, last)
        else:
            person.set_password(password)
            db.session.commit()
        logins[email] = password
    return {"district": district, "schools": schools, "logins": logins}


def register_cli(app: Flask) -> None:
    from .roster_cli import register_roster_cli; register_roster_cli(app)  # noqa: E702 - roster + rotate-secrets
    @app.cli.command("create-district")
    @click.argument("name")
    @click.option("--timezone", default="America/Los_Angeles", show_default=True)
    def create_district_command(name, timezone):
        """Create a district."""
        district = create_district(name, timezone)
        click.echo(f"Created district {district.name} ({district.timezone}).")

    @app.cli.command("create-school")
    @click.option("--district", "district_name", required=True)
    @click.option("--name", required=True)
    @click.option("--slug", required=True)
    def create_school_command(district_name, name, slug):
        """Create a school in a district."""
        school = create_school(district_name, name, slug)
        click.echo(f"Created school {school.name} at /schools/{school.slug}/people.")

    @app.cli.command("create-user")
    @click.option("--email", required=True)
    @click.option("--password", required=True)
    @click.option("--role", type=click.Choice(LOGIN_ROLES), required=True)
    @click.option("--school", "school_slug")
    @click.option("--district", "district_name")
    @click.option("--given-name", default="")
    @click.option("--family-name", default="")
    def create_user_command(email, password, role, school_slug, district_name, given_name, family_name):
        """Create an account that can sign in."""
        person = create_user(email, password, role, school_slug, district_name, given_name, family_name)
        click.echo(f"Created {person.role} {person.email}.")

    @app.cli.command("seed-demo")
    def seed_demo_command():
        """Create the demo district, schools and logins, and print the logins."""
        result = seed_demo()
        click.echo(f"Demo district: {result['district'].name}")
        for email, password in result["logins"].items():
            click.echo(f"  sign in as {email} / {password}")
