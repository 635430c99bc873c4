"""Which roster requests a run makes, in an order that lets parents be known before their students."""
from collections.abc import Iterator
from datetime import datetime

from connectors.client import OneRosterClient

# (phase label, roles): staff, admins and parents share the global `users` listing, so they come in
# one pass and first; students and teachers come from their school-scoped listings.
STEPS = (("fetching staff and parents", {"staff", "school_admin", "parent"}),
         ("fetching students", {"student"}),
         ("fetching teachers", {"teacher"}))


def fetch_steps(roles: frozenset[str], parents: bool) -> list[tuple[str, set[str]]]:
    """The (phase, roles) requests for the enabled roles; parents only when their contact is synced."""
    wanted = set(roles) | ({"parent"} if parents else set())
    steps = []
    for phase, step_roles in STEPS:
        chosen = step_roles & wanted
        if chosen:
            label = phase if chosen & {"parent"} and chosen - {"parent"} else _label(phase, chosen)
            steps.append((label, chosen))
    return steps


def _label(phase: str, chosen: set[str]) -> str:
    if chosen == {"parent"}:
        return "fetching parents"
    if chosen <= {"staff", "school_admin"}:
        return "fetching staff"
    return phase


def fetch_roster(client: OneRosterClient, school_id: str, roles: frozenset[str], *, parents: bool,
                 since: datetime | None) -> Iterator[tuple[str, list]]:
    """(phase, page) for every page of every step; raising means the fetch is incomplete."""
    for phase, step_roles in fetch_steps(roles, parents):
        for page in client.iter_roster(school_id, step_roles, since=since):
            yield phase, page
