"""Primary parent contact: the student's first guardian/parent agent wins, relatives only as a fallback.

Links count from either side: a guardian whose `agents` name the student is the student's agent even when
the student's own `agents` leave the guardian out (some SIS exports link parents only from the parent).
"""
from connectors.records import PersonRecord

from .fields import pack, unpack

_RANK = {"guardian": 0, "parent": 0}  # anything else (relative) ranks after them


class ParentBook:
    """Compact map of parent sourcedId → "rank␟name␟email␟phone" (one string each) for picking contacts."""

    def __init__(self):
        self._parents: dict[str, str] = {}
        self._wards: dict[str, tuple[str, ...]] = {}  # student sourcedId → guardians whose agents name them

    def __len__(self) -> int:
        return len(self._parents)

    def add(self, record: PersonRecord) -> None:
        if record.is_leaving:
            return
        name = " ".join(p for p in (record.given_name, record.family_name) if p)
        rank = _RANK.get(record.sis_role.lower(), 1)
        self._parents[record.source_id] = pack((str(rank), name, record.email.lower(), record.phone))
        for student_id in record.agent_ids:
            self._wards[student_id] = self._wards.get(student_id, ()) + (record.source_id,)

    def contact_for(self, agent_ids: tuple[str, ...], student_id: str = "") -> tuple[str, str, str]:
        """(name, email, phone) of the best-ranked agent, earliest in the agents list on ties; guardians
        linked only from their own side come after the student's own agents."""
        linked = agent_ids + tuple(g for g in self._wards.get(student_id, ()) if g not in agent_ids)
        best = None
        for position, agent_id in enumerate(linked):
            packed = self._parents.get(agent_id)
            if packed is None:
                continue
            rank, name, email, phone = unpack(packed)
            if best is None or (rank, position) < best[0]:
                best = ((rank, position), (name, email, phone))
        return best[1] if best else ("", "", "")
