"""Primary parent contact: the student's first guardian/parent agent wins, relatives only as a fallback.

Links count from either side: a guardian whose `agents` name the student is the student's agent even when
the student's own `agents` leave the guardian out (some SIS exports link parents only from the parent).
"""
from itertools import repeat
from operator import eq, itemgetter

from connectors.records import PersonRecord

from .fields import SEPARATOR, pack

_SID, _GIVEN, _FAMILY, _EMAIL, _PHONE, _SIS_ROLE, _AGENTS = (
    PersonRecord._fields.index(name) for name in ("source_id", "given_name", "family_name", "email", "phone",
                                                   "sis_role", "agent_ids"))
_RANK = {"guardian": "0", "parent": "0"}  # anything else (relative) ranks after them ("1")
NO_CONTACT = ("", "", "")
NO_CONTACT_PACKED = pack(NO_CONTACT)


class ParentBook:
    """Compact map of parent sourcedId → "rank" + "name␟email␟phone" (one string each) for picking contacts.

    A student's guardians named only from the guardian's side are one sourcedId (a tuple only for several), and
    are dropped once the student is planned: at 1,000,000 users they were 300,000 tuples held to the end."""

    def __init__(self):
        self._parents: dict[str, str] = {}
        self._wards: dict[str, str | tuple[str, ...]] = {}  # student sourcedId → guardians whose agents name them

    def __len__(self) -> int:
        return len(self._parents)

    def add(self, record: PersonRecord) -> None:
        if record.status == "tobedeleted" or not record.enabled:  # record.is_leaving, without the property call
            return
        given, family = record.given_name, record.family_name
        name = f"{given} {family}" if given and family else given or family
        sid = record.source_id
        contact = (name, record.email.lower(), record.phone)
        packed = SEPARATOR.join(contact)
        if packed.count(SEPARATOR) != 2:  # a value holding the separator itself would split into too many
            packed = pack(tuple(value.replace(SEPARATOR, " ") for value in contact))
        self._parents[sid] = _RANK.get(record.sis_role.lower(), "1") + packed
        self._name_wards(((sid, record.agent_ids),))

    def add_columns(self, columns: list, count: int) -> bool:
        """add() for a page of parents given as columns (jobs.plan_columns), none of them leaving; False, with
        nothing added, when a value holds the separator (add() replaces it)."""
        given, family = columns[_GIVEN], columns[_FAMILY]
        names = [f"{g} {f}" if g and f else g or f for g, f in zip(given, family)]
        packed = list(map(SEPARATOR.join, zip(names, map(str.lower, columns[_EMAIL]), columns[_PHONE])))
        if "".join(packed).count(SEPARATOR) != 2 * count:
            return False
        sis_roles = columns[_SIS_ROLE]
        rank = {role: _RANK.get(role.lower(), "1") for role in set(sis_roles)}
        self._parents.update(zip(columns[_SID], map(str.__add__, map(rank.__getitem__, sis_roles), packed)))
        self._name_wards(zip(columns[_SID], columns[_AGENTS]))
        return True

    def _name_wards(self, parents) -> None:
        """File each (parent sourcedId, the students its agents name) under those students."""
        wards = self._wards
        for sid, students in parents:
            for student_id in students:
                known = wards.get(student_id)
                wards[student_id] = sid if known is None else (known if type(known) is tuple else (known,)) + (sid,)

    def contact_for(self, agent_ids: tuple[str, ...], student_id: str = "") -> tuple[str, str, str]:
        """(name, email, phone) of the best-ranked agent, earliest in the agents list on ties; guardians
        linked only from their own side come after the student's own agents. Ask once per student (the planner
        does: a second copy of a sourcedId is dropped before), as the guardian-side links are used up."""
        best = self._best(agent_ids, self._wards.pop(student_id, None))
        return tuple(best[1:].split(SEPARATOR)) if best is not None else NO_CONTACT

    def packed_contacts(self, agents: list, students: list) -> list[str]:
        """contact_for of each student in order, packed ("name␟email␟phone", "␟␟" for none): a page's at once."""
        popped = list(map(self._wards.pop, students, repeat(None)))
        if set(map(len, agents)) == {1}:  # one agent each (as most exports have it)
            first = list(map(itemgetter(0), agents))
            if popped.count(None) + sum(map(eq, first, popped)) == len(popped):  # and no guardian beside them
                return _packed(map(self._parents.get, first))
        return _packed(map(self._best, agents, popped))

    def _best(self, agent_ids: tuple[str, ...], wards) -> str | None:
        """The best-ranked parent's "rank" + packed contact (contact_for), `wards` the student's guardian-side links."""
        if wards is None or wards in agent_ids:
            linked = agent_ids
        else:
            linked = agent_ids + tuple(g for g in ((wards,) if type(wards) is str else wards) if g not in agent_ids)
        parents, best = self._parents, None
        for agent_id in linked:
            packed = parents.get(agent_id)
            if packed is not None and (best is None or packed[0] < best[0]):  # strictly: the earliest wins ties
                best = packed
        return best


def _packed(found) -> list[str]:
    """Each best parent found ("rank" + packed contact, or None) as its packed contact."""
    return [best[1:] if best is not None else NO_CONTACT_PACKED for best in found]
