"""The validation report: each problem names file, line, column, what is wrong and what to do."""
import csv
import io
from dataclasses import dataclass, field

ERROR, WARNING = "error", "warning"
EMPTY_LINES_SHOWN = 5  # line numbers named in the one warning about rows of only commas
CSV_HEADER = ("severity", "file", "line", "column", "problem", "what_to_do")


@dataclass(frozen=True)
class Problem:
    """One finding; `line` is the file's physical line (1 = header), 0 when the whole file or bundle is meant."""

    severity: str
    file: str
    line: int
    column: str
    problem: str
    what_to_do: str

    @property
    def text(self) -> str:
        where = self.file or "bundle"
        if self.line:
            where += f" line {self.line}"
        if self.column:
            where += f", column {self.column}"
        return f"{where}: {self.problem} {self.what_to_do}"

    def row(self) -> tuple:
        return (self.severity, self.file, self.line or "", self.column, self.problem, self.what_to_do)


@dataclass
class Report:
    """Errors make a bundle not applicable; warnings are read past. Repeats of one kind are kept up to a cap."""

    per_kind: int = 20
    problems: list[Problem] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # kind -> how many times it happened
    _omitted: dict[str, tuple[str, str, str, int]] = field(default_factory=dict)
    _empty: dict[str, list[int]] = field(default_factory=dict)  # file -> [rows of only commas, first lines...]

    def add(self, severity: str, file: str, line: int, column: str, problem: str, what_to_do: str,
            kind: str = "") -> None:
        kind = f"{severity}:{file}:{kind or column + ':' + problem}"
        seen = self.counts.get(kind, 0) + 1
        self.counts[kind] = seen
        if seen <= self.per_kind:
            self.problems.append(Problem(severity, file, line, column, problem, what_to_do))
        else:
            self._omitted[kind] = (severity, file, column, seen - self.per_kind)

    def error(self, file: str, line: int, column: str, problem: str, what_to_do: str, kind: str = "") -> None:
        self.add(ERROR, file, line, column, problem, what_to_do, kind)

    def warning(self, file: str, line: int, column: str, problem: str, what_to_do: str, kind: str = "") -> None:
        self.add(WARNING, file, line, column, problem, what_to_do, kind)

    def empty_row(self, file: str, line: int) -> None:
        """A row of nothing but commas (what Excel leaves below the data): skipped, and told once per file."""
        seen = self._empty.setdefault(file, [0])
        if seen[0] == 0:
            self.counts[f"{WARNING}:{file}:empty-row"] = 1  # one warning, however many rows
        seen[0] += 1
        if len(seen) <= EMPTY_LINES_SHOWN:
            seen.append(line)

    def _empty_rows(self) -> list[Problem]:
        out = []
        for file, (count, *lines) in self._empty.items():
            shown = ", ".join(f"{n:,}" for n in lines) + (" and more" if count > len(lines) else "")
            rows = "1 row holds" if count == 1 else f"{count:,} rows hold"
            out.append(Problem(WARNING, file, 0, "", f"{rows} nothing but commas (line{'s' if count > 1 else ''} "
                               f"{shown}), as Excel leaves below the data; skipped.",
                               "Nothing to do; to stop this warning, delete those rows in the SIS export or the "
                               "spreadsheet."))
        return out

    def all(self) -> list[Problem]:
        """Every kept problem, then one line per kind whose further repeats were left out; errors first, so that
        the page's and the email's first rows show what stops the bundle, however many warnings came before."""
        tail = [Problem(sev, file, 0, col, f"{n:,} more rows have the same problem as above.",
                        "Fix the rows listed above the same way.")
                for sev, file, col, n in self._omitted.values()]
        kept = self.problems + self._empty_rows() + tail
        return [p for p in kept if p.severity == ERROR] + [p for p in kept if p.severity != ERROR]

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.all() if p.severity == ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.all() if p.severity == WARNING]

    @property
    def error_count(self) -> int:
        return sum(n for kind, n in self.counts.items() if kind.startswith(ERROR + ":"))

    @property
    def applicable(self) -> bool:
        """False when any error was found: such a bundle must change nothing."""
        return self.error_count == 0

    def csv_rows(self) -> list[tuple]:
        """Header row, then one row per problem, for a downloadable CSV."""
        return [CSV_HEADER] + [p.row() for p in self.all()]

    def to_csv(self) -> str:
        out = io.StringIO()
        csv.writer(out, lineterminator="\r\n").writerows(self.csv_rows())
        return out.getvalue()
