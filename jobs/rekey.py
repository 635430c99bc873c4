"""Re-keying: a person whose SIS sourcedId changed keeps their row instead of being archived and re-created.

Moving a connection from OneRoster 1.1 to 1.2 gives everyone a new sourcedId ("sourcedIds are not backwards
compatible prior to 1.2", kb.infinitecampus.com/help/oneroster---whats-new-in-12). An incoming record with an
unknown sourcedId is matched to a rostered person by Infinite Campus' `metadata.ic.legacysourceId` (the old id
without its one-letter role prefix, same page), which the SIS itself gives, at any time; else, only on the full
fetch of a run whose connection moved to another version, by SIS id, then by email (outside a move such a
record stays a possible duplicate for a person to check). Only a person
whose own old sourcedId does not arrive in the same run is re-keyed, so the match is settled after the last page;
sign-in accounts are never re-keyed. Pure: no Flask, no database.
"""
from dataclasses import dataclass
from datetime import datetime

from connectors.records import PersonRecord

from .fields import EMAIL, FAMILY_NAME, GIVEN_NAME, SIS_ID, pack, unpack


@dataclass(slots=True)
class Pending:
    """An incoming record waiting to re-key `entry` (shaped like the PersonRecord fields the planner reads).

    A move re-keys everyone, so one is held per person until the last page: the values stay packed in one string.
    """

    source_id: str
    is_leaving: bool
    date_last_modified: datetime | None
    packed: str
    entry: object  # jobs.plan.Entry (not imported: plan imports this module)
    field: str     # what matched: "legacy sourcedId", "SIS id" or "email"
    value: str

    @property
    def values(self) -> tuple[str, ...]:
        return tuple(unpack(self.packed))

    @property
    def given_name(self) -> str:
        return unpack(self.packed)[GIVEN_NAME]

    @property
    def family_name(self) -> str:
        return unpack(self.packed)[FAMILY_NAME]


class RekeyBook:
    """Candidates for re-keying, found while the pages arrive and settled after the last one."""

    def __init__(self, directory, by_match: bool):
        self.directory, self.by_match = directory, by_match
        self.pending: dict[int, Pending] = {}  # person id -> the record that would re-key them
        self._stripped: dict[str, list] | None = None  # old sourcedIds without a role prefix -> entries

    def match(self, record: PersonRecord, values: tuple[str, ...]) -> tuple[object, str, str] | None:
        """(entry, field, value) of the person an unknown sourcedId probably belongs to, or None."""
        directory = self.directory
        if record.legacy_id:
            entry = self._by_legacy(record.legacy_id, record.role)
            if entry is not None:
                return entry, "legacy sourcedId", record.legacy_id
        if not self.by_match:  # not a version move, or a delta (which leaves out people who did not change)
            return None
        for index, name in ((SIS_ID, "SIS id"), (EMAIL, "email")):
            value = values[index]
            entry = directory.sis_ids.get(hash(value)) if index == SIS_ID else directory.emails.get(hash(value))
            if value and entry is not None and entry.role == record.role:
                return entry, name, value
        return None

    def _by_legacy(self, legacy: str, role: str):
        rostered = self.directory.rostered
        exact = rostered.get(legacy)
        if exact is not None:
            return exact
        if self._stripped is None:  # built once, on the first legacy id that is not an old sourcedId as it is
            self._stripped = {}
            for sid, entry in rostered.items():
                if len(sid) > 1 and sid[0].isalpha() and not sid[1].isalpha():
                    self._stripped.setdefault(sid[1:], []).append(entry)
        entries = self._stripped.get(legacy, [])
        return next((e for e in entries if e.role == role), entries[0] if entries else None)

    def available(self, entry) -> bool:
        """A person who may still be re-keyed: rostered, not signing in, not yet seen or claimed in this run."""
        return (not entry.signs_in and entry.source_id is not None and entry.id not in self.pending
                and self.directory.rostered.get(entry.source_id) is entry)

    def hold(self, record: PersonRecord, values: tuple[str, ...], entry, field: str, value: str) -> None:
        self.pending[entry.id] = Pending(record.source_id, record.is_leaving, record.date_last_modified, pack(values),
                                         entry, field, value)

    def settle(self):
        """(re-keyed, refused): pending records whose person's old sourcedId never came, and those whose did."""
        rostered, rekeyed, refused = self.directory.rostered, [], []
        for pending in self.pending.values():
            entry = pending.entry
            if rostered.get(entry.source_id) is entry:
                rostered.pop(entry.source_id)
                rekeyed.append(pending)
            else:
                refused.append(pending)
        self.pending = {}
        return rekeyed, refused


def rekey_sign_in_message(record: PersonRecord, account_name: str, old_id: str) -> str:
    return (f"{record.given_name} {record.family_name} ({record.source_id}) is {account_name} under a new SIS id (was "
            f"{old_id}). That account can sign in, so the sync does not move its link; use Link to SIS record in "
            f"People with id {record.source_id} if it is the same person.")
