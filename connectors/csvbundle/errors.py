"""Why a bundle is refused; messages say what is wrong and what to do, and name no secret."""
from ..errors import ConnectorError


class BundleRefused(ConnectorError):
    """The bundle itself is unsafe or unreadable (a zip bomb, a path outside the bundle, a cut-off transfer)."""


class BundleInvalid(ConnectorError):
    """Validation found errors, so the bundle must change nothing; `report` says what to fix."""

    def __init__(self, report):
        errors = report.errors
        first = errors[0].text if errors else ""
        more = f" ({report.error_count - 1:,} more errors in the report.)" if report.error_count > 1 else ""
        super().__init__(f"The CSV bundle was not applied: {first}{more}")
        self.report = report


class FileUnreadable(Exception):
    """One file cannot be read past this point; carries where and why, for the report."""

    def __init__(self, line: int, problem: str, what_to_do: str, column: str = "", field: int | None = None):
        super().__init__(problem)
        self.line, self.problem, self.what_to_do, self.column = line, problem, what_to_do, column
        self.field = field  # the 0-based field of the line where reading stopped, when known
        self.readable = ""  # the text before that line, still to be read
