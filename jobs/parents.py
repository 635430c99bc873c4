"""Primary parent contact: the student's first guardian/parent agent wins, relatives only as a fallback.

Links count from either side: a guardian whose `agents` name the student is the student's agent even when
the student's own `agents` leave the guardian out (some SIS exports link parents only from the parent).
"""
from connectors.records import PersonRecord

from .fields import SEPARATOR, pack

_RANK = {"guardian": "0", "parent": "0"}  # anything else (relative) ranks after them ("1")
NO_CONTACT = ("", "", "")


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
        sid, wards = record.source_id, self._wards
        contact = (name, record.email.lower(), record.phone)
        packed = SEPARATOR.join(contact)
        if packed.count(SEPARATOR) != 2:  # a value holding the separator itself would split into too many
            packed = pack(tuple(value.replace(SEPARATOR, " ") for value in contact))
        self._parents[sid] = _RANK.get(record.sis_role.lower(), "1") + packed
        for student_id in record.agent_ids:
            known = wards.get(student_id)
            wards[student_id] = sid if known is None else (known if type(known) is tuple else (known,)) + (sid,)

    def contact_for(self, agent_ids: tuple[str, ...], student_id: str = "") -> tuple[str, str, str]:
        """(name, email, phone) of the best-ranked agent, earliest in the agents list on ties; guardians
        linked only from their own side come after the student's own agents. Ask once per student (the planner
        does: a second copy of a sourcedId is dropped before), as the guardian-side links are used up."""
        wards = self._wards.pop(student_id, None)
        if wards is None or wards in agent_ids:
            linked = agent_ids
        else:
            linked = agent_ids + tuple(g for g in ((wards,) if type(wards) is str else wards) if g not in agent_ids)
        parents, best = self._parents, None
        for agent_id in linked:
            packed = parents.get(agent_id)
            if packed is not None and (best is None or packed[0] < best[0]):  # strictly: the earliest wins ties
                best = packed
        return tuple(best[1:].split(SEPARATOR)) if best is not None else NO_CONTACT
