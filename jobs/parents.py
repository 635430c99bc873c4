"""Primary parent contact: the student's first guardian/parent agent wins, relatives only as a fallback."""
from connectors.records import PersonRecord

_RANK = {"guardian": 0, "parent": 0}  # anything else (relative) ranks after them


class ParentBook:
    """Compact map of parent sourcedId → (rank, name, email, phone) for picking contacts."""

    def __init__(self):
        self._parents: dict[str, tuple[int, str, str, str]] = {}

    def __len__(self) -> int:
        return len(self._parents)

    def add(self, record: PersonRecord) -> None:
        if record.is_leaving:
            return
        name = " ".join(p for p in (record.given_name, record.family_name) if p)
        rank = _RANK.get(record.sis_role.lower(), 1)
        self._parents[record.source_id] = (rank, name, record.email.lower(), record.phone)

    def contact_for(self, agent_ids: tuple[str, ...]) -> tuple[str, str, str]:
        """(name, email, phone) of the best-ranked agent, earliest in the agents list on ties."""
        best = None
        for position, agent_id in enumerate(agent_ids):
            parent = self._parents.get(agent_id)
            if parent is not None and (best is None or (parent[0], position) < best[0]):
                best = ((parent[0], position), parent[1:])
        return best[1] if best else ("", "", "")
