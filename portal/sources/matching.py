"""Suggested mappings: which portal school is probably which SIS school, by identifier and then by name.

Plain data in, suggestions out; the manager confirms each one (nothing is mapped by a suggestion alone).
"""
import re
from dataclasses import dataclass
from difflib import SequenceMatcher

SIMILAR = 0.8  # SequenceMatcher ratio of the cleaned names from which a name counts as similar
_WORDS = re.compile(r"[^\W_]+")  # letters and digits of any script (García, Müller)
_FILLER = {"school", "the", "of"}


@dataclass(frozen=True)
class Candidate:
    """A portal school that can still be mapped: its id, name, slug and the SIS school id it had saved."""

    school_id: int
    name: str
    slug: str = ""
    sis_school_id: str = ""


@dataclass(frozen=True)
class Suggestion:
    school_id: int
    reason: str  # "same School ID", "same name", "similar name"
    rank: float


def _clean(name: str) -> str:
    return " ".join(w for w in _WORDS.findall((name or "").lower()) if w not in _FILLER)


def _score(sis: dict, candidate: Candidate) -> tuple[float, str] | None:
    ids = {v.lower() for v in (sis.get("source_id", ""), sis.get("identifier", "")) if v}
    if candidate.sis_school_id and candidate.sis_school_id.lower() in ids:
        return 3.0, "same School ID"
    if candidate.slug and candidate.slug.lower() in ids:
        return 2.5, "identifier matches its address name"
    left, right = _clean(sis.get("name", "")), _clean(candidate.name)
    if not left or not right:
        return None
    if left == right:
        return 2.0, "same name"
    ratio = SequenceMatcher(None, left, right).ratio()
    if ratio >= SIMILAR:
        return 1.0 + ratio, "similar name"
    return None


def suggest(sis_schools: list[dict], candidates: list[Candidate]) -> dict[str, Suggestion]:
    """{SIS sourcedId: Suggestion}: the best pairs first, each SIS school and portal school used at most once."""
    pairs = []
    for sis in sis_schools:
        for candidate in candidates:
            scored = _score(sis, candidate)
            if scored:
                pairs.append((scored[0], sis["source_id"], candidate.school_id, scored[1]))
    pairs.sort(key=lambda pair: (-pair[0], pair[1], pair[2]))
    chosen: dict[str, Suggestion] = {}
    used: set[int] = set()
    for rank, sis_id, school_id, reason in pairs:
        if sis_id not in chosen and school_id not in used:
            chosen[sis_id] = Suggestion(school_id, reason, rank)
            used.add(school_id)
    return chosen
