"""The one rule for what an email address is: create-user, the forms and the sign-in lookup all use it.

District directories often live on special-use domains (`owner@school.local`, `.test`, `.internal`), so the
rule is syntax only: no DNS check, and special-use names allowed.
"""
import email_validator
from email_validator import EmailNotValidError, validate_email

MAX_EMAIL = 320
EXAMPLE = "e.g. name@school.org"


def normalise_email(email: str | None) -> str:
    """How an address is stored and looked up: trimmed and lower-cased (the sync stores them so too)."""
    return (email or "").strip().lower()


def _without_special_use_suffix(domain: str) -> str:
    """The domain with a special-use suffix (test, local, localhost, ...) swapped for a neutral one of the same
    length, so the library still checks every other part of the address.

    email-validator rejects special-use names even with check_deliverability=False; its changelog (1.3.0,
    https://newreleases.io/project/pypi/email-validator/release/1.3.0) says so and that the list,
    SPECIAL_USE_DOMAIN_NAMES, is public API. Changing that module-level list would change every other caller
    in the process, so the name is swapped here instead.
    """
    for name in email_validator.SPECIAL_USE_DOMAIN_NAMES:
        if domain == name or domain.endswith("." + name):
            return domain[: len(domain) - len(name)] + "x" * len(name)
    return domain


def email_problem(email: str | None) -> str | None:
    """What is wrong with this address, as a message that says what to do; None when it is an address."""
    value = normalise_email(email)
    if not value:
        return "Enter an email address."
    if len(value) > MAX_EMAIL:
        return f"An email address is at most {MAX_EMAIL} characters."
    local, at, domain = value.rpartition("@")
    if not at or not local or not domain:
        return f"Enter an email address with a name, an @ and a domain, {EXAMPLE}."
    try:
        # check_deliverability=False: no DNS lookups (the docs recommend it for sign-in forms; an on-premises
        # directory's domain may not resolve from here). globally_deliverable=False allows dot-less intranet
        # domains such as `localhost`.
        validate_email(f"{local}@{_without_special_use_suffix(domain)}", check_deliverability=False,
                       globally_deliverable=False)
    except EmailNotValidError as exc:
        return f"Enter a valid email address, {EXAMPLE} ({exc})"
    return None
