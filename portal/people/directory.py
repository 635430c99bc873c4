"""Directory search and paging: one indexed query for the page, one for the count.

On PostgreSQL the substring search is served by one trigram index over each person's search text (SEARCH_TEXT_SQL,
migrations c9e4a1f7b3d2 and f3a7c1e9b5d2), and a sourcedId is matched whole through the (school, sourcedId) key; on
SQLite by person_search, an FTS5 table with the trigram tokenizer that triggers keep in step (migration d8e2f4a6b1c3).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import and_, func, literal_column, or_, text
from sqlalchemy.orm import aliased

from store.db import db
from store.models import ROLES, SEARCH_TEXT_SQL, Person, School

STATUSES = ("active", "archived")
# A search with up to this many matches reads them (through the trigram indexes) and sorts them;
# walking the name index in order could read most of the school before it met the first of them
# (a common family name late in the alphabet). With more matches the walk meets 50 of them soon.
SORT_MATCHES_UP_TO = 10_000


@dataclass
class PeoplePage:
    items: list[Person]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def first_index(self) -> int:
        return 0 if self.total == 0 else (self.page - 1) * self.per_page + 1

    @property
    def last_index(self) -> int:
        return min(self.total, self.page * self.per_page)


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


TRIGRAM = 3  # FTS5's trigram tokenizer matches substrings of at least three characters, shorter ones never


def _word_matches(word: str):
    """Name, email, SIS id or SIS record id (sourcedId) contains the word (case-insensitive)."""
    pattern = f"%{_escape_like(word)}%"
    return or_(
        func.lower(Person.given_name).like(pattern, escape="\\"),
        func.lower(Person.family_name).like(pattern, escape="\\"),
        Person.email.like(pattern, escape="\\"),
        func.lower(Person.sis_id).like(pattern, escape="\\"),
        func.lower(Person.source_id).like(pattern, escape="\\"),
    )


SEARCH_TEXT = literal_column(f"({SEARCH_TEXT_SQL})")  # the expression ix_person_search_trgm is built on


def _search_text_matches(word: str):
    """PostgreSQL: a word (lower case) in the one trigram index's text. The index leaves out an email's domain
    (migration c9e4a1f7b3d2), so a word holding an @ is matched against the whole email, and its part before the @
    (which the email's part before its @ ends with) narrows that through the index."""
    if "@" not in word:
        return SEARCH_TEXT.like(f"%{_escape_like(word)}%", escape="\\")
    whole = Person.email.like(f"%{_escape_like(word)}%", escape="\\")
    before = word.split("@", 1)[0]
    return and_(SEARCH_TEXT.like(f"%{_escape_like(before)}%", escape="\\"), whole) if before else whole


def _is_source_id(typed: str):
    """PostgreSQL: the word is a person's whole sourcedId, as typed or in lower or upper case (the trigram index leaves
    sourcedIds out, migration f3a7c1e9b5d2: they are pasted whole from an issue or a report, never typed in part)."""
    return Person.source_id.in_(sorted({typed, typed.lower(), typed.upper()}))


def _word_conditions(typed_words: list[str]) -> tuple[list, bool]:
    """One condition per word, and whether FTS5 serves some: on SQLite those words go to person_search in one MATCH."""
    words = [word.lower() for word in typed_words]
    if db.session.get_bind().dialect.name != "sqlite":
        return [or_(_search_text_matches(word), _is_source_id(typed))
                for word, typed in zip(words, typed_words)], False
    indexed = [word for word in words if len(word) >= TRIGRAM]
    conditions = [_word_matches(word) for word in words if len(word) < TRIGRAM]
    if indexed:  # each word a quoted phrase: a substring, whatever characters it holds
        match = " AND ".join('"' + word.replace('"', '""') + '"' for word in indexed)
        conditions.append(Person.id.in_(
            db.select(text("rowid")).select_from(text("person_search"))
            .where(text("person_search MATCH :match").bindparams(match=match))))
    return conditions, bool(indexed)


def search_people(school: School, *, q: str = "", role: str = "", status: str = "",
                  page: int = 1, per_page: int = 50) -> PeoplePage:
    """People of a school matching every word of q (name, email, SIS id or sourcedId), newest filters applied."""
    filters = []
    if role in ROLES:
        filters.append(Person.role == role)
    if status in STATUSES:
        filters.append(Person.status == status)
    words, fts = _word_conditions([word[:100] for word in q.split()[:5]])
    conditions = [Person.school_id == school.id, *filters, *words]
    # With an FTS5 match, SQLite must look the matches up by id: given a usable school_id term it walks the whole
    # school's index and probes the match list instead (26 ms against 3 ms for "smith" at 100k). `school_id + 0`
    # is the unary-operator way to take a term out of index use (https://www.sqlite.org/optoverview.html, section
    # "Disqualifying WHERE Clause Terms using Unary-"+"").
    matched = [(Person.school_id + 0) == school.id, *filters, *words] if fts else conditions
    total = db.session.scalar(db.select(func.count()).select_from(Person).where(*matched)) or 0
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, page), pages)
    if total == 0:
        return PeoplePage(items=[], total=0, page=page, per_page=per_page)
    if q.split() and total <= SORT_MATCHES_UP_TO:
        matches = aliased(Person, db.select(Person).where(*matched).cte("matches")
                          .prefix_with("MATERIALIZED", dialect="postgresql"))
        query = db.select(matches).order_by(matches.family_name, matches.given_name, matches.id)
    else:
        query = db.select(Person).where(*conditions).order_by(Person.family_name, Person.given_name, Person.id)
    items = list(db.session.scalars(query.limit(per_page).offset((page - 1) * per_page)))
    return PeoplePage(items=items, total=total, page=page, per_page=per_page)
