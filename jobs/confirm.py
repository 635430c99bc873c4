"""Ask the SIS about each person a full read did not bring before archiving them for being absent.

Why: OneRoster pages by offset. A record the SIS hard-deletes while a listing is read moves every later record one
place back, so one record is never seen, and its person would count as having left (the archive guard only bounds
how many). Looking each would-be leaver up (GET users/{sourcedId}) tells a leave from a shifted page. A normal
night, where nobody left, makes no look-up at all.
"""
from collections.abc import Callable
from contextlib import AbstractContextManager

from connectors.errors import ConnectorError, NotFound
from connectors.people import PLAIN_ID, SchoolIds, look_up

from .plan import Issue, Planner

LOOK_UP_AT_MOST = 200  # per run: past this the rest count as having left, within the archive guard, as before
GIVE_UP_AFTER = 3  # failed look-ups: the SIS is in trouble; the rest of the batch is kept without asking
EXAMPLES = 5


def confirm_leavers(planner: Planner, open_client: Callable[[], AbstractContextManager], school_id: str, *,
                    at_most: int = LOOK_UP_AT_MOST, tick: Callable[[], None] = lambda: None,
                    out_of_time: Callable[[], bool] = lambda: False) -> list[Issue]:
    """Look up (at most `at_most` of) the people the plan would archive for being absent. Those the SIS still has at
    this school are planned as if the listing had brought them; a 404 or a record elsewhere or leaving confirms the
    leave; a failed look-up keeps the person, and so does one not asked because the run's time limit came
    (`out_of_time`: slow answers must not hold the school's lock past it). Returns the issues that say what
    happened (none when nobody was absent)."""
    absent = planner.absent()
    if not absent:
        return []
    asked, unasked = absent[:at_most], absent[at_most:]
    planned: list[Issue] = []  # issues of the records looked up, counted by add_page
    found, failed, late, error, offered, control_failed = [], [], [], None, True, False
    with open_client() as client:
        schools = SchoolIds(client)  # read only if a record names an org other than this school
        controls = planner.listed_examples()
        control = _control_look_up(client, controls)
        if isinstance(control, NotFound):
            unasked, error, offered, asked = asked + unasked, control, False, []
        elif control is not None:  # the SIS fails now: nobody is archived for being absent this time
            failed, error, asked, unasked, control_failed = asked + unasked, control, [], [], True
        for n, sid in enumerate(asked):
            if len(failed) >= GIVE_UP_AFTER:
                failed += asked[n:] + unasked  # the SIS is in trouble: nobody absent is archived unchecked either
                unasked = []
                break
            if out_of_time():
                late = asked[n:]
                break
            try:
                # a 404 for an id that had to be percent-encoded is not believed (connectors.people.look_up)
                records = [r for r in look_up(client, sid, school_id, planner.options.roles, schools,
                                              trust_404=bool(PLAIN_ID.fullmatch(sid))) if r.source_id == sid]
            except NotFound as exc:
                if not controls:  # nothing says look-ups work: asking again teaches nothing
                    unasked, error, offered = asked[n:] + unasked, exc, False
                    break
                failed.append(sid)  # others' look-ups work: this id's URL is what the SIS (or a proxy) refused
                error = error or exc
                continue
            except ConnectorError as exc:
                failed.append(sid)
                error = error or exc
                continue
            finally:
                tick()
            if records:
                planned += planner.add_page(records)
                found += [r.source_id for r in records if not getattr(r, "is_leaving", False)]
    for sid in failed + late:
        planner.keep(sid)
    failed_text = control_failed_message if control_failed else failed_message
    mine = [(sids[0], "listing", message) for sids, message in (
        (found, found and kept_message(found)), (failed, failed and failed_text(failed, error)),
        (late, late and late_message(late)),
        (unasked, unasked and (unasked_message(len(unasked), at_most) if offered
                               else not_offered_message(len(unasked), error)))) if sids]
    planner.plan.counts["issues"] += len(mine)
    return planned + mine


def _control_look_up(client, source_ids: list[str]) -> ConnectorError | None:
    """Look up people the listings just brought, before believing any 404. None: look-ups work (or nobody was
    listed to try them with). NotFound: the SIS does not answer single-user look-ups usefully, a 404 even for people
    it has just included (a JSON 404 from an API without users/{id} reads like a leave otherwise); each is asked in
    turn, as one of them may have been deleted since it was listed. Another error: the SIS is failing now."""
    answer = None
    for source_id in source_ids:
        try:
            if client.get_user(source_id) is not None:
                return None
        except NotFound as exc:
            answer = exc
            continue
        except ConnectorError as exc:
            return exc
        answer = NotFound(f"The SIS answered the look-up of {source_id} (users/{source_id}) with 404, although its "
                          "listing had just included that person, so its 404s cannot tell who left.", status=404,
                          url=client.url_for(f"users/{source_id}"))
    return answer


def _names(sids: list[str]) -> str:
    shown = ", ".join(sids[:EXAMPLES])
    return shown + (f" and {len(sids) - EXAMPLES:,} more" if len(sids) > EXAMPLES else "")


SHIFTED_AT_MOST = 3  # people a listing that shifted while it was read (a record deleted part-way) plausibly drops


def kept_message(sids: list[str]) -> str:
    many = len(sids) != 1
    kept = (f"{len(sids):,} {'people' if many else 'person'} missing from the SIS's listings {'were' if many else 'was'}"
            f" still active at this school when looked up one by one ({_names(sids)}), so "
            f"{'they were' if many else 'it was'} kept and synced as usual, not archived.")
    if len(sids) <= SHIFTED_AT_MOST:
        return kept + (" The SIS's listing probably shifted while it was read (a record deleted part-way); nothing "
                       "needs doing unless it happens every night.")
    return kept + (" So many cannot be a listing that shifted while it was read: the SIS's listings left people out "
                   "(a paging fault of the SIS). Send this message to the SIS vendor's support; until it is fixed, "
                   "people who really leave may not be archived.")


def failed_message(sids: list[str], error: ConnectorError) -> str:
    many = len(sids) != 1
    return (f"{len(sids):,} {'people' if many else 'person'} missing from the SIS's listings could not be looked up "
            f"one by one ({_names(sids)}), so {'they were' if many else 'it was'} kept, not archived; the next sync "
            f"asks again. The SIS said: {error.message}")


def late_message(sids: list[str]) -> str:
    many = len(sids) != 1
    return (f"{len(sids):,} {'people' if many else 'person'} missing from the SIS's listings could not be looked up "
            f"one by one before the run's time limit ({_names(sids)}; the SIS answered slowly), so "
            f"{'they were' if many else 'it was'} kept, not archived; the next sync asks again.")


def unasked_message(count: int, at_most: int) -> str:
    return (f"{count:,} more people missing from the SIS's listings were not looked up one by one (a sync looks up at "
            f"most {at_most:,}), so they count as having left, within the archive guard's limit.")


def not_offered_message(count: int, error: ConnectorError) -> str:
    who = "1 person missing from its listings counts" if count == 1 else f"{count:,} people missing from its " \
        "listings count"
    return (f"The SIS does not offer single-user look-ups, so {who} as having left without being checked, within "
            f"the archive guard's limit. The SIS said: {error.message}")


def control_failed_message(sids: list[str], error: ConnectorError) -> str:
    many = len(sids) != 1
    were = "were" if many else "was"
    return (f"{len(sids):,} {'people' if many else 'person'} missing from the SIS's listings {were}"
            f" kept, not archived ({_names(sids)}): a test look-up of someone the SIS had just listed failed, so it "
            f"could not say who left; the next sync asks again. The SIS said: {error.message}")
