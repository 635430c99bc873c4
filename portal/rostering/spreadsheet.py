"""CSV downloads that a spreadsheet opens as plain text (OWASP "CSV Injection"): a cell that would start a formula,
even after blanks, gets a leading `'`; so does what follows a `;` inside a cell, because Excel set to a European
list separator splits lines at every `;`, quotes or not, and would start a new cell there."""
import re

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\0")
_AFTER_SEMICOLON = re.compile(r"(;[ \"]*)(?=[=+\-@\t\r\n\0])")


def safe_cell(value) -> str:
    text = "" if value is None else str(value)
    text = _AFTER_SEMICOLON.sub(r"\1'", text)
    return "'" + text if text.lstrip(" ").startswith(FORMULA_STARTS) else text
