"""Primary parent contact: the student's first guardian/parent agent wins, relatives only as a fallback."""
from connectors.records import PersonRecord

from .fields import pack, unpack

_RANK = {"guardian": 0, "parent": 0}  # anything else (relative) ranks after them


class ParentBook:
    """Compact map of parent sourcedId → "rank␟name␟email␟phone" (one string each) for picking contacts."""

    def __init__(self):
        self._parents: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._parents)

    def add(self, record: PersonRecord) -> None:
        if record.is_leaving:
            return
        name = " ".join(p for p in (record.given_name, record.family_name) if p)
        rank = _RANK.get(record.sis_role.lower(), 1)
        self._parents[record.source_id] = pack((str(rank), name, record.email.lower(), record.phone))

    def contact_for(self, agent_ids: tuple[str, ...]) -> tuple[str, str, str]:
        """(name, email, phone) of the best-ranked agent, earliest in the agents list on ties."""
        best = None
        for position, agent_id in enumerate(agent_ids):
            packed = self._parents.get(agent_id)
            if packed is None:
                continue
            rank, name, email, phone = unpack(packed)
            if best is None or (rank, position) < best[0]:
                best = ((rank, position), (name, email, phone))
        return best[1] if best else ("", "", "")
