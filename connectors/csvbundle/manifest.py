"""manifest.csv: which OneRoster version a bundle is, and whether each file is bulk, delta or absent."""
from dataclasses import dataclass, field

from .report import Report
from .spec import COLUMNS, MANIFEST, MODES, NEEDED, VERSIONS
from .lines import start_problem
from .tables import Header, read_rows

SPEC_FILES = frozenset(name for _, name in COLUMNS) | {"manifest.csv"}

MANIFEST_HELP = ("Add manifest.csv with the header propertyName,value and rows such as oneroster.version,1.1 and "
                 "file.users,bulk (most SIS exports write it; check the export's settings).")


@dataclass
class Manifest:
    version: str = ""  # "1.1" or "1.2"; empty when unusable
    modes: dict[str, str] = field(default_factory=dict)  # "users.csv" -> bulk | delta | absent


def read_manifest(files, report: Report, max_line_bytes: int) -> Manifest:
    """Parse manifest.csv; a missing or unusable one is reported as the cause and leaves `version` empty."""
    manifest = Manifest()
    if not files.members and "xl/workbook.xml" in files.others:
        report.error("manifest.csv", 0, "", "The file is an Excel workbook (.xlsx) renamed .zip, not a zip of CSV "
                     "files.", "Export the OneRoster CSV files from the SIS (manifest.csv, orgs.csv, users.csv) and "
                     "zip them, or upload the CSV files themselves.")
        return manifest
    inner = [name for name in files.others if name.lower().endswith(".zip")]
    if not files.members and inner:
        report.error("manifest.csv", 0, "", f"The bundle holds another zip ({inner[0]}) instead of the CSV files; zips "
                     "inside the zip are not opened.", "Send the inner zip itself, or zip the CSV files (manifest.csv, "
                     "orgs.csv, users.csv) directly.")
        return manifest
    if "manifest.csv" not in files.members:
        report.error("manifest.csv", 0, "", "manifest.csv is missing, so the bundle does not say which OneRoster "
                     "version it is or whether its files are bulk or delta; nothing else was checked."
                     + _folder("manifest.csv", files) + _lookalike("manifest.csv", files), MANIFEST_HELP)
        name_unreadable_files(files, report)
        return manifest
    values: dict[str, tuple[str, int]] = {}
    stream = files.open("manifest.csv")
    try:
        at = (0, 1)
        for item in read_rows(stream, "manifest.csv", MANIFEST, MANIFEST, report, max_line_bytes):
            if isinstance(item, Header):
                at = (item.index.get("propertyName", 0), item.index.get("value", 1))
                continue
            line, row = item
            name, value = row[at[0]].strip().lower(), row[at[1]].strip()
            if name.startswith("file.") and name.endswith(".csv"):  # file.users.csv,delta must not read as bulk
                report.warning("manifest.csv", line, "propertyName", f"{name} names the file with its .csv; it is "
                               f"read as {name[:-4]}.", f"Write the property as {name[:-4]}, the spec's form.")
                name = name[:-4]
            if name in values:
                _repeated(report, name, values[name], value, line)
            elif name:
                values[name] = (value, line)
    finally:
        stream.close()
    if report.error_count:
        name_unreadable_files(files, report, SPEC_FILES)
        return manifest
    version, line = values.get("oneroster.version", ("", 0))
    if not version:
        report.error("manifest.csv", 0, "value", "manifest.csv has no oneroster.version row.",
                     "Add the row oneroster.version,1.1 (or 1.2, whichever the export follows).")
        return manifest
    if version not in VERSIONS:
        report.error("manifest.csv", line, "value", f"oneroster.version is {version!r}; this portal reads 1.0, 1.1 "
                     "and 1.2.", "Export OneRoster 1.1 or 1.2 CSV files from the SIS.")
        return manifest
    if version == "1.0":
        report.warning("manifest.csv", line, "value", "oneroster.version is 1.0; the files are read with the 1.1 "
                       "columns.", "Nothing to do if the export follows OneRoster 1.1.")
    mversion, mline = values.get("manifest.version", ("", 0))
    if mversion != "1.0":
        report.warning("manifest.csv", mline, "value", f"manifest.version is {mversion or 'missing'}; expected 1.0.",
                       "Add the row manifest.version,1.0.")
    manifest.version = VERSIONS[version]
    for name, (value, line) in values.items():
        if name.startswith("file."):
            mode = value.lower()
            if mode not in MODES:
                report.error("manifest.csv", line, "value", f"{name} is {value!r}; it must be bulk, delta or absent.",
                             "Set it to bulk for a full export, delta for changes only, absent if the file is not sent.")
                continue
            manifest.modes[name[5:].lower() + ".csv"] = mode
    _check_files(files, manifest, report)
    return manifest


def _repeated(report: Report, name: str, first: tuple[str, int], value: str, line: int) -> None:
    """A property given twice: the same value is read past; two values are an error rather than the last one
    winning (a delta export read as bulk would archive everyone it leaves out)."""
    if first[0].lower() == value.lower():
        report.warning("manifest.csv", line, "value", f"manifest.csv gives {name} twice (lines {first[1]} and {line}) "
                       "with the same value.", "Accepted; remove the repeated row.")
        return
    report.error("manifest.csv", line, "value", f"manifest.csv gives {name} twice: {first[0]!r} on line {first[1]} "
                 f"and {value!r} on line {line}, so it is not clear which is meant.",
                 "Keep one row for each property (file.users: bulk for a full export, delta for changes only), then "
                 "send the bundle again.")


def _check_files(files, manifest: Manifest, report: Report) -> None:
    for key in NEEDED[manifest.version]:
        mode = manifest.modes.get(key)
        present = key in files.members
        if mode == "absent" and key == "orgs.csv" and manifest.modes.get("users.csv") == "delta":
            continue  # a delta with no org changes; the spec forbids a file of no rows, so it says absent (reader)
        if mode == "absent":
            report.error("manifest.csv", 0, "", f"The manifest says {key} is absent, but a people sync needs it.",
                         f"Include {key} in the export and set file.{key[:-4]} to bulk or delta.")
        elif not present:
            said = f" although the manifest says file.{key[:-4]} is {mode}" if mode else ""
            report.error(key, 0, "", f"{key} is missing from the bundle{said}." + _folder(key, files)
                         + _lookalike(key, files),
                         f"Include {key} in the export; a people sync needs {', '.join(NEEDED[manifest.version])}.")
        elif mode is None and key == "users.csv" and (
                deltas := sorted(f"file.{k[:-4]}" for k, m in manifest.modes.items() if m == "delta")):
            # read as bulk, a delta export would archive everyone it leaves out, the guard alone standing between
            report.error("manifest.csv", 0, "", f"The manifest has no file.{key[:-4]} row but says {deltas[0]} is "
                         f"delta, so it is not clear whether {key} is a full export (bulk: people it leaves out have "
                         "left) or changes only (delta).",
                         f"Add the row file.{key[:-4]},delta (or file.{key[:-4]},bulk if {key} holds everyone), then "
                         "send the bundle again.")
        elif mode is None:
            report.warning("manifest.csv", 0, "", f"The manifest has no file.{key[:-4]} row; {key} is read as bulk.",
                           f"Add the row file.{key[:-4]},bulk (or delta).")
            manifest.modes[key] = "bulk"
    for key in files.members:
        if manifest.modes.get(key) == "absent":
            report.warning(key, 0, "", f"The manifest says {key} is absent, so the file sent is ignored.",
                           f"Set file.{key[:-4]} to bulk or delta if the file should be read.")


def name_unreadable_files(files, report: Report, only: frozenset | None = None) -> None:
    """Name each file of the bundle whose first bytes show it is not UTF-8 CSV text (a workbook or binary data
    renamed .csv, UTF-16): once the manifest (or orgs.csv) has an error the other files are not read, and an admin
    who saved every file as Excel's "Unicode Text" would otherwise learn of one file per upload. A file the report
    already has an error for is left out, and so is any file not in `only` (when given)."""
    named = {p.file for p in report.problems if p.severity == "error"}
    for key in sorted(files.members):
        if key in named or (only is not None and key not in only):
            continue
        stream = files.open(key)
        try:
            found = start_problem(stream.read(4096))
        finally:
            stream.close()
        if found:
            report.error(key, 1, "", *found)


def _folder(key: str, files) -> str:
    """A sentence for a folder that carries the file's name (a zip tool or an unpacked export made users.csv a
    folder): without it the admin is told the file is missing while seeing it in the listing."""
    if not any(name.lower() == key for name in files.folders):
        return ""
    return f" The bundle has a folder named {key}, not a file; put the file itself there."


def _lookalike(key: str, files) -> str:
    """A sentence naming a file that is probably `key` under another name ("users (1).csv" from a second download,
    "Users_2026-02-01.csv"): each OneRoster file is read by its exact name, and the bundle seemed to hold it."""
    stem = key[:-4]
    names = [m.name.replace("\\", "/").rsplit("/", 1)[-1] for k, m in files.members.items()
             if stem in k and k != key and k not in SPEC_FILES]
    if not names:
        return ""
    return (f" The bundle has {names[0]}; if that is the {stem} file, rename it {key} (each OneRoster file is read by "
            "its exact name).")
