"""A OneRoster CSV bundle as one more roster source: validated while streamed, read as the API reader's records."""
from collections.abc import Iterator

from ..records import NOT_SCHOOLS, ROLES, PersonRecord, RecordProblem, SchoolRecord
from .archive import BundleFiles, Limits, base_name
from .errors import BundleInvalid
from .manifest import SPEC_FILES, name_unreadable_files, read_manifest
from .orgs import read_orgs, read_roles
from .people import UserScan
from .report import Report

SCHOOLS_SHOWN = 5  # the schools a message names (a district has hundreds)
NOT_A_SCHOOL_FIX = ("Enter the sourcedId of the school itself (an orgs.csv row of type school) as the School ID on the "
                    "Rostering page, then send the bundle again.")


class CsvBundle:
    """Open with `open_bundle`; `validate()` checks every file, `iter_roster()` reads one school's people.

    Nothing here writes anywhere: a caller applies the records only once the whole bundle has been read
    without errors (`iter_roster` raises BundleInvalid at the end otherwise, like an incomplete fetch).
    """

    def __init__(self, path, limits: Limits | None = None):
        self.limits = limits or Limits()
        self.files = BundleFiles(path, self.limits)
        self.report = Report()
        self.orgs: dict[str, tuple[str, SchoolRecord]] = {}
        self.roles: dict | None = None
        self.org_roles: dict = {}  # 1.2: users whose role differs by org (see read_roles)
        self._users_checked = False
        self.users_read = 0  # distinct users (sourcedIds) of users.csv, once a read of it ended
        try:
            self._read_header_files()
        except BaseException:
            self.files.close()
            raise

    def _read_header_files(self) -> None:
        locks = [name for name in self.files.others if is_lock_file(name)]
        for name in self.files.others:
            if not is_lock_file(name):
                self.report.warning(name, 0, "", ignored_file_reason(name), "Nothing to do.", kind="other-file")
        if locks:  # one line for them all: Office leaves one per open file
            what = "is a lock file" if len(locks) == 1 else "are lock files"
            self.report.warning("", 0, "", f"{', '.join(locks)} {what} Excel or another Office program leaves while a "
                                "file is open; not part of the OneRoster export, so ignored.",
                                "Nothing to do; close the files in Excel before zipping to leave them out.",
                                kind="lock-file")
        self.manifest = read_manifest(self.files, self.report, self.limits.max_line_bytes)
        if not self.report.applicable:
            return
        if self.manifest.modes.get("orgs.csv") != "absent":
            self.orgs = read_orgs(self.files, self.version, self.report, self.limits.max_line_bytes,
                                  delta=self.orgs_delta)
        if self.version == "1.2":
            self.roles, self.org_roles = read_roles(self.files, self.report, self.orgs, self.limits.max_line_bytes,
                                                    orgs_unchecked=self.orgs_delta)  # a delta orgs.csv lists few
        if not self.report.applicable:  # users.csv is not read: still name a file that is not UTF-8 text at all
            name_unreadable_files(self.files, self.report, SPEC_FILES)

    # -- what the caller needs to know -------------------------------------------------------------
    @property
    def version(self) -> str:
        """"1.1" or "1.2" (manifest `oneroster.version`; 1.0 reads as 1.1); empty if the manifest is unusable."""
        return self.manifest.version

    @property
    def users_mode(self) -> str:
        """"bulk" or "delta", from the manifest's file.users."""
        return self.manifest.modes.get("users.csv", "")

    @property
    def full(self) -> bool:
        """True for a bulk users.csv: everyone on the roster is in it, so people absent from it have left."""
        return self.users_mode == "bulk"

    @property
    def orgs_delta(self) -> bool:
        """orgs.csv is a delta file: it holds the orgs changed since the last export (often none), so a school
        missing from it still exists. A delta users.csv whose orgs.csv is `absent` (no org changed) is the same
        case with no rows: HMH's "OneRoster 1.1 manifest File" page defines absent as "this CSV file is not
        supplied" (downloads.hmlt.hmco.com/Help/ImportMngmt/Administrator/OneRoster_Template_Files/OneRoster_v1-1/
        OneRoster_1-1_manifest_File.htm), and a delta export with no org changes says so."""
        return self.manifest.modes.get("orgs.csv") in ("delta", "absent")

    def lists_school(self, school_id: str) -> bool:
        """orgs.csv names this school, or (orgs.csv and users.csv both delta) the caller's School ID is taken as it
        is: a delta's rows change only whom they name, while a bulk users.csv read for a mistyped School ID would
        say that everyone has left."""
        lowered = school_id.lower()
        trusted = self.orgs_delta and not self.full and not self.not_a_school(school_id)
        return bool(school_id) and (trusted or any(s.source_id.lower() == lowered for s in self.schools()))

    def not_a_school(self, school_id: str) -> str:
        """What is wrong with `school_id` when orgs.csv gives it a type other than school ("" when it does not): a
        district's org taken as the school gave that school every user of the district."""
        lowered = school_id.lower()
        kind, org = next((org for sid, org in self.orgs.items() if sid.lower() == lowered), ("", None))
        if kind not in NOT_SCHOOLS:
            return ""
        schools = self.schools()
        shown = ", ".join(f"{s.source_id} ({s.name})" for s in schools[:SCHOOLS_SHOWN]) or "none"
        more = f" and {len(schools) - SCHOOLS_SHOWN} more" if len(schools) > SCHOOLS_SHOWN else ""
        return (f"The School ID {org.source_id} is {org.name or 'an org'} in orgs.csv, an org of type {kind}, not a "
                f"school: synced as one, it would get every user of the {kind}. The schools in orgs.csv are: "
                f"{shown}{more}.")

    def schools(self) -> list[SchoolRecord]:
        """The orgs of type school, in file order."""
        return [school for kind, school in self.orgs.values() if kind == "school"]

    # -- reading ---------------------------------------------------------------------------------------
    def validate(self) -> Report:
        """Check every file to the last row without building records; returns the (shared) report.

        users.csv is not read when the manifest or orgs.csv has errors: its findings would only mislead.
        Raises BundleRefused if a file turns out damaged or larger than declared while it is read."""
        if self.report.applicable and not self._users_checked:
            for _ in UserScan(self, None, self.report, defer=False).pages():
                pass
            self._users_checked = True
        return self.report

    def iter_roster(self, school_id: str, roles: set[str] | frozenset[str], *, page_size: int = 1000,
                    parents_first: bool = True, columns: bool = False) -> Iterator[list[PersonRecord | RecordProblem]]:
        """Pages of one school's people for `roles`, parents before the students naming them; read it once for
        all roles. Raises BundleInvalid (after the last page if need be) when the bundle has errors.
        `parents_first=False`: file order (for a caller that puts parents first itself, as keep_records does);
        `columns=True` (file order only): each page as (its records' columns, its problems), for keep_columns."""
        if columns and parents_first:
            raise ValueError("pages of columns come in file order: pass parents_first=False")
        unknown = set(roles) - set(ROLES)
        if unknown:
            raise ValueError(f"Unknown roles {sorted(unknown)}; expected some of {ROLES}")
        if not self.report.applicable:
            raise BundleInvalid(self.report)
        school_id = next((sid for sid in self.orgs if sid.lower() == school_id.lower()), school_id)
        if wrong := self.not_a_school(school_id):
            self.report.error("orgs.csv", 0, "type", wrong, NOT_A_SCHOOL_FIX)
            raise BundleInvalid(self.report)
        if school_id not in self.orgs and not self.lists_school(school_id):
            schools = ", ".join(f"{s.source_id} ({s.name})" for s in self.schools()[:10]) or "none"
            self.report.error("orgs.csv", 0, "sourcedId", f"The school {school_id} is not in orgs.csv; its schools "
                              f"are: {schools}.", "Check the school's SIS id in the settings, or export the bundle "
                              "that includes this school.")
            raise BundleInvalid(self.report)
        wanted_roles, school, lowered = frozenset(roles), school_id, school_id.lower()

        def wanted(role, orgs) -> bool:
            if role is not None and role not in wanted_roles:
                return False
            return role == "parent" or school in orgs or any(o.lower() == lowered for o in orgs)

        # A second read must not repeat the first one's findings in the report.
        report = Report() if self._users_checked else self.report
        yield from UserScan(self, wanted, report, defer=parents_first and "parent" in wanted_roles,
                            page_size=page_size, columns=columns, roles=self.roles_at(school)).pages()
        self._users_checked = True
        if not self.report.applicable:
            raise BundleInvalid(self.report)

    def roles_at(self, school_id: str) -> dict | None:
        """roles.csv's (role, orgs) per user as one school sees them: a user whose role differs by org has the role
        held at this school, and one with no role in effect here does not name it. The bundle's own map when no
        user's role differs by org (the usual bundle: nothing is copied)."""
        if not self.org_roles:
            return self.roles
        lowered, here = school_id.lower(), {}
        for user, pairs in self.org_roles.items():
            role = next((role for org, role in pairs if org.lower() == lowered), None)
            if role is not None:
                orgs = self.roles[user][1]
                here[user] = (role, orgs) if role else (self.roles[user][0],
                                                         tuple(o for o in orgs if o.lower() != lowered))
        return {**self.roles, **here} if here else self.roles

    # -- lifetime ----------------------------------------------------------------------------------------
    def close(self) -> None:
        self.files.close()

    def __enter__(self) -> "CsvBundle":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_bundle(path, limits: Limits | None = None) -> CsvBundle:
    """Open a zip or a directory of OneRoster CSV files; raises BundleRefused when the archive is hostile."""
    return CsvBundle(path, limits)


def is_lock_file(name: str) -> bool:
    return base_name(name).startswith("~$")


def ignored_file_reason(name: str) -> str:
    """Why a file of the bundle is not read, in words that do not send the admin looking for a broken export."""
    base = base_name(name)
    if name.startswith("__MACOSX/") or base.startswith("._") or base == ".DS_Store":
        return (f"{name} is a hidden file macOS adds when it zips a folder; it is not part of the OneRoster export "
                "and is ignored.")
    if base.startswith("."):
        return f"{name} is a hidden file, not part of the OneRoster export, and is ignored."
    return f"{name} is not a CSV file and is ignored."
