"""Operator commands: create districts, schools and users, and seed the demo."""
import re
import secrets
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy.exc import IntegrityError

from store.db import db
from store.models import District, Person, School

from ..auth.emails import email_problem, normalise_email
from ..auth.service import password_problem
from .sftp_demo import seed_sftp_school

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,78}$")
LOGIN_ROLES = ("owner", "district_manager", "teacher", "staff", "student", "school_admin")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _clean(value: str | None, label: str, hint: str, *, limit: int = 200, required: bool = True) -> str:
    """Trimmed text the database will take: no control characters (PostgreSQL refuses NUL), not too long."""
    value = (value or "").strip()
    if (required and not value) or len(value) > limit:
        raise click.BadParameter(f"{label} must be {1 if required else 0} to {limit} characters.",
                                 param_hint=hint)
    if _CONTROL.search(value):
        raise click.BadParameter(f"{label} contains a line break or control character.", param_hint=hint)
    return value


def _lookup(value: str | None) -> str:
    """A name or slug to look up; one that could never be stored matches nothing."""
    value = (value or "").strip()
    return "" if len(value) > 200 or _CONTROL.search(value) else value


def _shown(value: str | None) -> str:
    """A value quoted for a message, cut short so a pasted novel does not flood the terminal."""
    value = value or ""
    return repr(value if len(value) <= 60 else value[:57] + "...")


def create_district(name: str, timezone: str) -> District:
    name = _clean(name, "The district name", "NAME")
    try:
        if len(timezone) > 100 or _CONTROL.search(timezone):
            raise ValueError(timezone)
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise click.BadParameter(f"{_shown(timezone)} is not a time zone; use one like America/Los_Angeles.",
                                 param_hint="--timezone") from None
    if db.session.scalar(db.select(District).filter_by(name=name)):
        raise click.BadParameter(f"A district named {_shown(name)} already exists.", param_hint="NAME")
    district = District(name=name, timezone=timezone)
    db.session.add(district)
    db.session.commit()
    return district


def create_school(district_name: str, name: str, slug: str) -> School:
    district = db.session.scalar(db.select(District).filter_by(name=_lookup(district_name)))
    if district is None:
        raise click.BadParameter(f"No district named {_shown(district_name)}; create it first.",
                                 param_hint="--district")
    name = _clean(name, "The school name", "--name")
    if not SLUG_RE.fullmatch(slug):
        raise click.BadParameter("Use lower-case letters, digits and dashes for the slug, e.g. lincoln-high.",
                                 param_hint="--slug")
    if db.session.scalar(db.select(School).filter_by(slug=slug)):
        raise click.BadParameter(f"The slug {_shown(slug)} is taken.", param_hint="--slug")
    school = School(district=district, name=name, slug=slug)
    db.session.add(school)
    try:
        db.session.commit()
    except IntegrityError:  # another command or the Sources page took it since the check above
        db.session.rollback()
        raise click.BadParameter(f"The slug {_shown(slug)} is taken.", param_hint="--slug") from None
    return school


def create_user(email: str, password: str, role: str, school_slug: str | None, district_name: str | None,
                given_name: str = "", family_name: str = "") -> Person:
    problem = email_problem(email)  # the rule the forms apply, so every account created here can sign in
    if problem:
        raise click.BadParameter(problem, param_hint="--email")
    email = normalise_email(email)
    problem = password_problem(password, email)
    if problem:
        raise click.BadParameter(problem, param_hint="--password")
    given_name = _clean(given_name, "The given name", "--given-name", required=False)
    family_name = _clean(family_name, "The family name", "--family-name", required=False)
    if db.session.scalar(db.select(Person).where(Person.email == email, Person.password_hash.is_not(None))):
        raise click.BadParameter(f"An account with {email} already exists.", param_hint="--email")
    person = Person(email=email, role=role, given_name=given_name, family_name=family_name)
    if role == "district_manager":
        district = db.session.scalar(db.select(District).filter_by(name=_lookup(district_name)))
        if district is None:
            raise click.BadParameter("A district manager needs --district NAME of an existing district.",
                                     param_hint="--district")
        person.district_id = district.id
    else:
        school = db.session.scalar(db.select(School).filter_by(slug=_lookup(school_slug)))
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
    sftp = seed_sftp_school(district, create_school)
    schools[sftp["school"].slug] = sftp["school"]
    return {"district": district, "schools": schools, "logins": logins, "sftp": sftp}


def register(cli: AppGroup) -> None:
    """Add create-district, create-school, create-user and seed-demo to the `flask` command."""
    @cli.command("create-district")
    @click.argument("name")
    @click.option("--timezone", default="America/Los_Angeles", show_default=True)
    def create_district_command(name, timezone):
        """Create a district."""
        district = create_district(name, timezone)
        click.echo(f"Created district {district.name} ({district.timezone}).")

    @cli.command("create-school")
    @click.option("--district", "district_name", required=True)
    @click.option("--name", required=True)
    @click.option("--slug", required=True)
    def create_school_command(district_name, name, slug):
        """Create a school in a district."""
        school = create_school(district_name, name, slug)
        click.echo(f"Created school {school.name} at /schools/{school.slug}/people.")

    @cli.command("create-user")
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

    @cli.command("seed-demo")
    def seed_demo_command():
        """Create the demo district, schools and logins, and print the logins."""
        result = seed_demo()
        click.echo(f"Demo district: {result['district'].name}")
        for email, password in result["logins"].items():
            click.echo(f"  sign in as {email} / {password}")
        sftp, port = result["sftp"], current_app.config["SFTP_PORT"]
        click.echo(f"  SFTP drop of {sftp['school'].name}: sftp -P {port} {sftp['username']}@127.0.0.1 / "
                   f"{sftp['password']}")
        click.echo(f"    then `put {sftp['bundle']}` (a small OneRoster CSV bundle; synced when it arrives)")
