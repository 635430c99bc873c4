"""users.csv a batch of rows at a time, column by column, for the common batch that needs no word in the report.

people.UserScan._row is the rule: one row at a time, every check, every problem named. A batch in which no row
would be reported (every width right, one line each, ids new and distinct, roles, orgs and dates known, names and
statuses present) reads to the same records here with passes over its columns that run in C, a few distinct values
checked once instead of a Python call per row; any other batch is left untouched for _row to read row by row. A
test reads dirty and clean files both ways and compares the records, the report and the pages.
"""
from itertools import chain, compress, repeat
from operator import itemgetter, not_

from ..records import ROLE_MAP, map_role
from .spec import KEPT_CHARACTERS

NAME_KEPT = min(KEPT_CHARACTERS[c] for c in ("givenName", "familyName", "middleName", "username", "identifier"))
EMAIL_KEPT, PHONE_KEPT = KEPT_CHARACTERS["email"], KEPT_CHARACTERS["phone"]

LEAVING = {"tobedeleted", "inactive", "deleted"}  # status values of a user who left
DISABLED = {"false", "0", "no"}  # enabledUser values of a disabled user
# enabledUser values read without a word: the spec's true/false (any case, as Microsoft SDS matches OneRoster 1.2
# booleans: https://learn.microsoft.com/en-us/schooldatasync/data-ingestion-wiith-oneroster-1.2-csv, "Boolean: Case
# Insensitive Match to 'true' or 'false'"), blank, the 1/0 and yes/no that exports write, and y/t/on (read as enabled,
# as they mean). Any other value ("N", "off", "disabled") is read as enabled too, so nobody is archived on a guess,
# but reported (people.UserScan._row): the SIS probably meant a turned-off account. No vendor page found through the
# search tool lists the non-spec spellings; they are what spreadsheets and report writers produce.
KNOWN_ENABLED = DISABLED | {"", "true", "1", "yes", "y", "t", "on"}
_NO_ROLE = ("", ())
_first, _second = itemgetter(0), itemgetter(1)


def read_clean(scan, first: int, rows: list, width: int, indexes: list[int]) -> list | None:
    """The records of the wanted rows that are not deferred, as their fields' columns (PersonRecord field order,
    each an iterable: zip(*columns) gives the records; none at all when nothing is built), after `scan` took in the
    batch (ids seen, forward references, deferred students); None, with `scan` unchanged, when a row of the batch
    needs _row. `first` is the line of the first row; every row is on one line."""
    n = len(rows)
    if sum(map(len, rows)) != n * width:  # this, and the shortest row as wide as the header: every row is that wide
        return None
    columns = list(zip(*rows))
    if len(columns) != width:
        return None
    columns.append(("",) * n)  # the column of every name the header lacks: read as blank
    (sid_col, status_col, modified_col, enabled_col, orgs_col, role_col, username_col, given_col, family_col,
     middle_col, identifier_col, email_col, sms_col, phone_col, agents_col, grades_col) = map(columns.__getitem__,
                                                                                            indexes)
    sids = list(map(str.strip, sid_col))
    if not all(sids):
        return None
    numbers = "".join(chain(sid_col, identifier_col, phone_col))
    if "E+" in numbers or "e+" in numbers:
        return None  # perhaps a number Excel shortened (1.23457E+15): _row says so
    if max(map(len, chain(given_col, family_col, middle_col, username_col, identifier_col))) > NAME_KEPT or \
            max(map(len, email_col)) > EMAIL_KEPT or max(map(len, phone_col)) > PHONE_KEPT:
        return None  # a value the portal would cut: _row says so
    if scan.roles is not None:  # 1.2: role and orgs from roles.csv
        found = list(map(scan.roles.get, sids, repeat(_NO_ROLE)))
        role_col, orgs_col = list(map(_first, found)), list(map(_second, found))
        ids_of = {ids: ids for ids in set(orgs_col)}
    else:
        ids_of = {value: scan.org_ids(value) for value in _distinct(orgs_col)}
    known, lowered = scan.orgs, scan.orgs_lower
    if not scan.orgs_unchecked and not all(org in known or org.lower() in lowered
                                           for ids in ids_of.values() for org in ids):
        return None
    mapped_of = {role: ROLE_MAP.get(role) or map_role(role) for role in _distinct(role_col)}
    if None in mapped_of.values():
        return None
    if () in ids_of.values() and (scan.roles is None or any(value.strip().lower() in LEAVING
                                                            for value in _distinct(status_col))):
        return None  # a blank orgSourcedIds: _row warns; a deletion row may name no school: _row sends it everywhere
    if not all(map(str.strip, given_col)) and not all(map(str.strip, family_col)) and \
            any(not g.strip() and not f.strip() for g, f in zip(given_col, family_col)):
        return None
    if scan.delta and "" in status_col:
        return None
    if not all(value.strip().lower() in KNOWN_ENABLED for value in _distinct(enabled_col)):
        return None  # _row reports the value it reads as enabled
    when_of = {text: scan.date(text) if text else None for text in _distinct(modified_col)}
    if None in map(when_of.get, filter(None, when_of)):
        return None
    wanted_of, flags = _wanted(scan.wanted, mapped_of, ids_of, role_col, orgs_col)
    if scan.delta and flags is not None:
        return None  # a delta row for other schools only says the person left this one: _row makes that record
    # Ids last: taken in at once and counted, one look-up each in the million-entry `seen` instead of a test and
    # then an insert; the ids that were new are the last ones in, so a batch repeating an id takes them out again.
    keys = list(map(hash, sids))
    batch = dict.fromkeys(keys)
    seen = scan.seen
    before = len(seen)
    seen.update(batch)
    added = len(seen) - before
    if added != n:  # an id twice in the batch, or one read before: _row names it
        for _ in range(added):
            seen.popitem()
        return None

    # Every row reads without a word: take the batch in.
    agent_text = "".join(agents_col)
    single = "," not in agent_text and " " not in agent_text  # one agent or none per row: the id is the value
    building = any(wanted_of.values())
    agent_ids = _agent_ids(agents_col, single, n) if building or not single else None
    deferring = scan.defer and building
    late = []
    if agent_text and deferring:
        late = _late(seen, keys, batch, agents_col if single else None, agent_ids)
    elif agent_text:  # nothing is deferred: every reference is checked once, after the last row (_check_forward)
        named = agents_col if single else agent_ids
        lines = compress(range(first, first + n), named)
        if single:
            scan.refer(list(compress(agents_col, agents_col)), list(lines))
        else:
            scan.refer_entries(list(compress(agent_ids, named)), lines)
    deferred = []
    if late:
        if deferring:
            deferred = _deferred(late, mapped_of, wanted_of, flags, role_col)
            if deferred:
                kept = set(deferred)
                late = [i for i in late if i not in kept]
        lines = list(map(first.__add__, late))
        if single:
            scan.refer(list(map(agents_col.__getitem__, late)), lines)
        else:
            scan.refer_entries(list(map(agent_ids.__getitem__, late)), lines)
    if not building:
        return []
    givens, families = list(map(str.strip, given_col)), list(map(str.strip, family_col))
    status_of = {value: "tobedeleted" if value.strip().lower() in LEAVING else "active"
                 for value in _distinct(status_col)}
    enabled_of = {value: not value or value == "true" or value.strip().lower() not in DISABLED
                  for value in _distinct(enabled_col)}
    grades_of = {value: scan.list_of(value) for value in _distinct(grades_col)}
    phones = list(map(str.strip, phone_col))
    if "" in phones and any(sms_col):
        phones = [p or s.strip() for p, s in zip(phones, sms_col)]
    sis_of = {role: role for role in mapped_of}  # one string per distinct role, shared by the records
    fields = [sids, _through(mapped_of, role_col, n), givens, families, map(str.strip, middle_col),
              map(str.strip, email_col), map(str.strip, username_col), map(str.strip, identifier_col),
              _through(grades_of, grades_col, n), phones, _through(status_of, status_col, n),
              _through(enabled_of, enabled_col, n), _through(ids_of, orgs_col, n), agent_ids,
              _through(when_of, modified_col, n), _through(sis_of, role_col, n), repeat("", n), repeat((), n)]
    if flags is not None:
        fields = [compress(field, flags) for field in fields]
    if deferred:
        fields = [list(field) for field in fields]
        wanted_rows = range(n) if flags is None else compress(range(n), flags)
        if len(deferred) == len(fields[0]):  # every wanted row waits for its agents
            scan.defer_columns(fields, list(map(first.__add__, deferred)))
            return []
        kept = set(deferred)
        stays = [i not in kept for i in wanted_rows]
        scan.defer_columns([list(compress(field, map(not_, stays))) for field in fields],
                           list(map(first.__add__, deferred)))
        fields = [compress(field, stays) for field in fields]
    return fields


def _distinct(column) -> tuple | set:
    """A column's distinct values; the one value of a column that holds one (most columns of a batch) found by
    comparing the batch's new strs with it, cheaper than hashing each."""
    first = column[0]
    return (first,) if column.count(first) == len(column) else set(column)


def _through(values: dict, column, n: int):
    """The column's cells through `values` (what each of its distinct cells reads as): the one value repeated when
    the column holds one, without a look-up (and so a hash) of each cell."""
    if len(values) == 1:
        return repeat(next(iter(values.values())), n)
    return map(values.__getitem__, column)


def _wanted(wanted, mapped_of: dict, ids_of: dict, role_col, orgs_col) -> tuple[dict, list | None]:
    """wanted(role, orgs) for each distinct (role, orgs) of the batch, and the rows' flags (None: all wanted)."""
    if wanted is None:
        return {None: False}, None
    if len(ids_of) == 1:  # one school list for the batch (the usual case): the role decides
        ids = next(iter(ids_of.values()))
        wanted_of = {role: wanted(mapped, ids) for role, mapped in mapped_of.items()}
        column = role_col
    elif len(mapped_of) == 1:
        mapped = next(iter(mapped_of.values()))
        wanted_of = {value: wanted(mapped, ids) for value, ids in ids_of.items()}
        column = orgs_col
    else:
        column = list(zip(role_col, orgs_col))
        wanted_of = {pair: wanted(mapped_of[pair[0]], ids_of[pair[1]]) for pair in set(column)}
    if all(wanted_of.values()):
        return wanted_of, None
    return wanted_of, list(map(wanted_of.__getitem__, column))


def _deferred(late: list[int], mapped_of: dict, wanted_of: dict, flags, role_col) -> list[int]:
    """The late rows that are wanted students: _row spools them until every row has been read."""
    students = [role for role, mapped in mapped_of.items() if mapped == "student"]
    if not students:
        return []
    wanted = (flags.__getitem__ if flags is not None else None)
    if len(mapped_of) == 1:
        return late if wanted is None else list(compress(late, map(wanted, late)))
    is_student = map(set(students).__contains__, map(role_col.__getitem__, late))
    if wanted is None:
        return list(compress(late, is_student))
    return [i for i, student in zip(late, is_student) if student and wanted(i)]


def _agent_ids(agents_col, single: bool, n: int) -> list[tuple[str, ...]]:
    if single:
        if "" not in agents_col:
            return list(zip(agents_col))
        return [(a,) if a else () for a in agents_col]
    return list(map(split_ids, agents_col))


def split_ids(value: str) -> tuple[str, ...]:
    """A CSV list field ("a,b" inside quotes) as a tuple; the one-value case stays cheap."""
    if not value:
        return ()
    if "," not in value:
        if " " not in value:
            return (value,)
        value = value.strip()  # " " is no id: a blank list, not the id ""
        return (value,) if value else ()
    return tuple(dict.fromkeys(v for v in (p.strip() for p in value.split(",")) if v))


def _late(seen: dict, keys: list, batch: dict, single_col, agent_ids) -> list[int]:
    """The rows (indexes, ascending) naming an agent that no earlier row of the file and no earlier row of this
    batch is (a row may name itself: _row counts a row as read before it checks the row's agents); `seen` holds
    this batch's ids already."""
    n = len(keys)
    if single_col is not None:
        owners = compress(range(n), single_col)
        agents = compress(single_col, single_col)
    else:
        owners = chain.from_iterable(map(repeat, range(n), map(len, agent_ids)))
        agents = chain.from_iterable(agent_ids)
    agent_keys = list(map(hash, agents))
    unknown = list(map(not_, map(seen.__contains__, agent_keys)))
    if batch.keys().isdisjoint(agent_keys):  # no row names a row of this batch
        if not any(unknown):
            return []
        late = list(compress(owners, unknown))
    else:
        position = dict(zip(keys, range(n)))
        late = [i for i, key, absent in zip(owners, agent_keys, unknown) if absent or position.get(key, -1) > i]
    return list(dict.fromkeys(late)) if single_col is None else late
