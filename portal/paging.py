"""The page number of a paged list, read from the query string the same way on every page."""
from collections.abc import Mapping

MAX_PAGE = 999_999


def page_number(args: Mapping, name: str = "page") -> int:
    """A whole number from 1 to MAX_PAGE, else 1: "abc", "0", "²" (a digit to str.isdigit) and huge values (past
    4,300 digits int() itself raises, so the length is checked first)."""
    value = args.get(name) or "1"
    plain = value.isascii() and value.isdigit() and len(value) <= len(str(MAX_PAGE))
    return int(value) if plain and 0 < int(value) <= MAX_PAGE else 1
