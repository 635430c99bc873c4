"""Plan a page of people column by column when every one of them is a plain new person (or a parent).

A first import of a 1,000,000-user CSV bundle is nearly all new people, and Planner._person's per-record calls
(values, contact, duplicate checks) were most of a preview's CPU. Here the same checks run as a few passes over the
page's columns (set look-ups, joins and maps in C); when any person of the page would need a word in the run's
issues, a skip, a link, a re-key or an update, nothing is changed and the planner takes the page record by record.
tests/jobs/test_plan_columns.py plans dirty and clean pages both ways and compares the plans.
"""
from itertools import compress

from connectors.records import PersonRecord

from .fields import FIELDS, LIMITS, PARENT_FIELDS, SEPARATOR, SOURCE_ID_LIMIT, fit, pack, unpack
from .parents import NO_CONTACT_PACKED

_SHORTEST = min(LIMITS[name] for name in PARENT_FIELDS)  # a packed contact no longer than this fits every field

_AT = {name: i for i, name in enumerate(PersonRecord._fields)}
SID, ROLE, STATUS, ENABLED, LEGACY = (_AT[name] for name in ("source_id", "role", "status", "enabled", "legacy_id"))
AGENTS, MODIFIED = _AT["agent_ids"], _AT["date_last_modified"]
# The record fields behind jobs.fields.FIELDS after the role (fields.incoming's order).
_TEXT = tuple(_AT[name] for name in ("given_name", "middle_name", "family_name", "email", "username", "identifier",
                                     "grades", "phone"))
_EMAIL, _SIS_ID, _GRADE = 3, 5, 6  # of _TEXT


def plan_columns(planner, columns: list, count: int) -> bool:
    """Plan the page's people as Planner._person (and ParentBook.add) would one by one, and return True; or return
    False, with the planner unchanged, when someone on it needs the per-record path."""
    if not count:
        return True
    roles = columns[ROLE]
    if "tobedeleted" in columns[STATUS] or not all(columns[ENABLED]):
        return False  # leaving: a skip or an archive
    if "parent" in roles:
        return roles.count("parent") == count and planner.parents.add_columns(columns, count)
    if any(columns[LEGACY]):
        return False  # a possible re-key (a version move's re-keys by SIS id or email: the checks below)
    sids = columns[SID]
    if max(map(len, sids)) > SOURCE_ID_LIMIT:
        return False
    directory, seen = planner.directory, planner.seen
    keys = set(map(hash, sids))
    if len(keys) != count or not seen.isdisjoint(keys) or not directory.rostered.keys().isdisjoint(sids):
        return False  # a duplicate, or someone already here
    texts = [columns[i] for i in _TEXT]
    texts[_EMAIL] = list(map(str.lower, texts[_EMAIL]))
    texts[_GRADE] = list(map(",".join, texts[_GRADE]))
    texts = [_cut(column, name) for column, name in zip(texts, FIELDS[1:])]
    packed = list(map(SEPARATOR.join, zip(roles, *texts)))
    if "".join(packed).count(SEPARATOR) != count * len(texts):  # a value holds the separator: fit() replaces it
        texts = [[fit(value, name) for value in column] for column, name in zip(texts, FIELDS[1:])]
        packed = list(map(SEPARATOR.join, zip(roles, *texts)))
    emails = list(filter(None, texts[_EMAIL]))
    email_keys = list(map(hash, emails))
    sis_keys = list(map(hash, filter(None, texts[_SIS_ID])))
    if len(set(email_keys)) != len(email_keys) or not planner.emails.keys().isdisjoint(email_keys):
        return False  # two new people with one email
    if not (directory.sign_in.keys().isdisjoint(emails) and directory.by_email.keys().isdisjoint(emails)
            and directory.emails.keys().isdisjoint(email_keys) and directory.sis_ids.keys().isdisjoint(sis_keys)
            and directory.hand_sis_ids.keys().isdisjoint(sis_keys)):
        return False  # an account that signs in, someone to link, or a possible duplicate
    # Everyone on the page is new: from here on nothing can send the page back.
    if planner._contacts:
        packed = list(map(SEPARATOR.join, zip(packed, _contacts(planner.parents, roles, columns[AGENTS], sids))))
    seen |= keys
    planner.emails.update(zip(email_keys, compress(sids, texts[_EMAIL])))
    plan, modified = planner.plan, columns[MODIFIED]
    latest = max(filter(None, modified), default=None)
    if latest is not None and (plan.high_water is None or latest > plan.high_water):
        plan.high_water = latest
    plan.counts["fetched"] += count
    plan.creates.extend(zip(sids, packed, modified))
    plan.created += count
    return True


def _cut(column: list, name: str) -> list:
    """The column with each value cut to its field's length as fields.fit cuts it (nearly always: as it is)."""
    limit = LIMITS[name]
    return column if max(map(len, column)) <= limit else [value[:limit] for value in column]


def _contacts(parents, roles: list, agents: list, sids: list) -> list[str]:
    """Each person's parent contact, packed and cut as fields.incoming has it (students only; "␟␟" for others)."""
    students = list(map("student".__eq__, roles))
    found = iter(parents.packed_contacts(list(compress(agents, students)), list(compress(sids, students))))
    if all(students):
        contacts = list(found)
    else:
        contacts = [next(found) if student else NO_CONTACT_PACKED for student in students]
    if max(map(len, contacts)) > _SHORTEST:  # a long value: cut each as incoming would
        contacts = [pack([fit(value, name) for value, name in zip(unpack(contact), PARENT_FIELDS)])
                    for contact in contacts]
    return contacts
