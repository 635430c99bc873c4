"""users.csv read a batch at a time (connectors/csvbundle/batch.py) gives what the row-by-row reading gives: the
same pages of records and problems, the same report (every problem, its line, its order), the same count of users.
"""
import io
import random

import pytest

from connectors.csvbundle import BundleInvalid, keep_columns, keep_records, kept_pages, open_bundle, people
from connectors.csvbundle.partition import school_pages
from connectors.records import ROLES, PersonColumns, PersonRecord, RecordProblem

from csv_helpers import bundle_files, user_row, users, write_zip

DELTA = "propertyName,value\nmanifest.version,1.0\noneroster.version,1.1\nfile.orgs,bulk\nfile.users,delta\n"


def _rows(seed: int, dirt: float, delta: bool = False) -> list[str]:
    """A roster with students before and after their parents, staff, and (at rate `dirt`) rows to report."""
    rng = random.Random(seed)
    out = []
    for i in range(400):
        dirty = rng.choice(["dup", "role", "org", "no-id", "names", "date", "extra", "trailing", "break", "crlf",
                            "blank", "status", "enabled"]) if rng.random() < dirt else ""
        kind = rng.random()
        sid = {"dup": f"s{rng.randint(0, max(i - 1, 0))}", "no-id": " "}.get(dirty)
        org = "s404" if dirty == "org" else None
        names = {"given": "", "family": " "} if dirty == "names" else {}
        when = "someday" if dirty == "date" else None
        if kind < 0.45:
            agents = rng.choice([f"p{i + rng.randint(-30, 30)}", f"p{i}", f"p{i},p{i + 1}", "", f" p{i - 3} ",
                                 f"s{i}"])
            row = user_row(sid or f"s{i}", "wizard" if dirty == "role" else "student",
                           org=org or rng.choice(["s1", "s1", "s2", "s1,s2"]), agents=agents,
                           grades=rng.choice(["09", "10", "09,10", ""]), dateLastModified=when or rng.choice(
                               ["", "2026-01-05T08:00:00Z", "2026-01-05 08:00:00", "2026-01-05T03:00:00-05:00"]),
                           sms=rng.choice(["", "+1 555 0100"]), phone=rng.choice(["", " +1 555 0199 "]),
                           enabledUser="N" if dirty == "enabled" else rng.choice(["true", "TRUE", "0", "", "no "]),
                           status="" if dirty == "status" else rng.choice(
                               ["active", "tobedeleted", " Inactive"] + ([] if delta else [""])), **names)
        elif kind < 0.8:
            row = user_row(sid or f"p{i}", "" if dirty == "role" else rng.choice(["parent", "guardian", "Relative"]),
                           org=org or rng.choice(["s1", "d1"]), agents=rng.choice([f"s{i}", f"s{i + 5}", ""]),
                           dateLastModified=when or "", status="" if dirty == "status" else "active",
                           **(names or {"given": rng.choice(["Pat", " Pat ", ""])}))
        else:
            row = user_row(sid or f"t{i}", "Wizard" if dirty == "role" else rng.choice(
                ["teacher", "aide", "administrator", " Teacher"]), org=org or rng.choice(["s1", "s2"]),
                middleName=rng.choice(["", "Q"]), identifier=f" T{i} ", dateLastModified=when or "",
                status="" if dirty == "status" else "Active", **names)
        row = {"extra": row + ",extra", "trailing": row + ",,", "break": row.replace(",Smith,", ',"Smi\nth",'),
               "crlf": row.replace(",Smith,", ',"Smi\r\nth",'), "blank": ""}.get(dirty, row)
        out.append(row)
    return out


def _read_both_ways(monkeypatch, path, how):
    """What `how(bundle)` returns (and the report, the users read), read in batches and row by row; and how many
    batches the batched reading read in columns."""
    results, clean = [], []
    for batched in (True, False):
        with monkeypatch.context() as m:
            m.setattr(people, "BATCH", 7)  # batches of 7 rows: clean and dirty ones side by side
            read_clean = people.read_clean

            def counted(*args):
                got = read_clean(*args) if batched else None
                clean.append(got is not None)
                return got
            m.setattr(people, "read_clean", counted)
            with open_bundle(path) as bundle:
                got = how(bundle)
                results.append((got, [p.row() for p in bundle.report.all()], dict(bundle.report.counts),
                                bundle.users_read))
    return results, sum(clean)


def _pages(roles, parents_first=True):
    def how(bundle):
        return _listed(bundle.iter_roster("s1", roles, page_size=50, parents_first=parents_first))
    return how


def _listed(pages):
    got = []
    try:
        for page in pages:
            got.append(page)
    except BundleInvalid as exc:  # after the last page: compared like the pages
        got.append(str(exc))
    return got


@pytest.mark.parametrize("seed,dirt", [(1, 0.0), (2, 0.0), (3, 0.02), (4, 0.1), (5, 0.4)])
@pytest.mark.parametrize("how", [
    _pages(set(ROLES)), _pages(set(ROLES), parents_first=False), _pages({"student", "teacher"}),
    _pages({"parent", "staff"}), lambda bundle: bundle.validate() and None,
    lambda bundle: _listed(school_pages(bundle, {"s1": set(ROLES), "s2": {"student"}}, page_size=50))
    if bundle.report.applicable else None,
], ids=["all", "file-order", "students-teachers", "parents-staff", "validate", "district"])
def test_batches_read_what_rows_read(monkeypatch, tmp_path, seed, dirt, how):
    rows = _rows(seed, dirt, delta=seed == 3)
    files = bundle_files(users(*rows), manifest_csv=DELTA) if seed == 3 else bundle_files(users(*rows))
    (batched, by_rows), clean = _read_both_ways(monkeypatch, write_zip(tmp_path / "b.zip", files), how)
    assert batched == by_rows
    if dirt < 0.2:
        assert clean > 0  # some batches were read in columns: the comparison is not of one way with itself


def test_a_header_without_optional_columns_reads_them_as_blank_both_ways(monkeypatch, tmp_path):
    header = "sourcedId,orgSourcedIds,role,givenName,familyName,agentSourcedIds"
    rows = [f"u{i},s1,{'student' if i % 3 else 'guardian'},Zoe,Smith,{'' if i % 3 == 0 else f'u{i - i % 3}'}"
            for i in range(60)]
    path = write_zip(tmp_path / "b.zip", bundle_files(users(*rows, header=header)))
    (batched, by_rows), clean = _read_both_ways(monkeypatch, path, _pages(set(ROLES)))
    assert batched == by_rows and clean > 0
    assert sum(map(len, batched[0])) == 60


def test_a_file_cut_off_inside_a_quote_reports_the_same_rows_first(monkeypatch, tmp_path):
    rows = [user_row(f"u{i}", org="s404" if i == 9 else "s1") for i in range(20)] + ['u99,,,true,s1,student,"open']
    path = write_zip(tmp_path / "b.zip", bundle_files(users(*rows)))
    (batched, by_rows), _ = _read_both_ways(monkeypatch, path, _pages(set(ROLES)))
    assert batched == by_rows
    assert [p[2] for p in batched[1]][:2] == [22, 11]  # the unclosed quote (errors come first), then line 11's warning


def _kept(columns: bool, roles=frozenset(ROLES)):
    """What a run would load from the records receipt keeps: read as pages of columns (keep_columns) or of records
    (keep_records); the records in the order the run gets them, and the problems apart (a page's problems go with
    its last chunk, and pages of columns count records only, so pages end elsewhere)."""
    def how(bundle):
        out = io.BytesIO()
        pages = bundle.iter_roster("s1", roles, page_size=50, parents_first=False, columns=columns)
        try:
            (keep_columns if columns else keep_records)(pages, out, {"roles": sorted(roles)})
        except BundleInvalid as exc:
            return str(exc)
        out.seek(0)
        items = [item for page in kept_pages(out, {"roles": sorted(roles)}) for item in page]
        return ([i for i in items if type(i) is PersonRecord], [i for i in items if type(i) is not PersonRecord])
    return how


@pytest.mark.parametrize("seed,dirt", [(1, 0.0), (3, 0.02), (4, 0.1), (5, 0.4)])
@pytest.mark.parametrize("roles", [frozenset(ROLES), frozenset({"student", "parent"})], ids=["all", "students"])
def test_kept_columns_are_the_kept_records(monkeypatch, tmp_path, seed, dirt, roles):
    rows = _rows(seed, dirt, delta=seed == 3)
    files = bundle_files(users(*rows), manifest_csv=DELTA) if seed == 3 else bundle_files(users(*rows))
    path = write_zip(tmp_path / "b.zip", files)
    (batched, by_rows), clean = _read_both_ways(monkeypatch, path, _kept(True, roles))
    (records, _), _ = _read_both_ways(monkeypatch, path, _kept(False, roles))
    assert batched == by_rows == records
    if dirt < 0.2:
        assert clean > 0 and batched[0][0]  # records were kept, some of them from batches read in columns


@pytest.mark.parametrize("seed,problems", [(1, 0.0), (3, 0.0), (4, 0.05), (6, 0.3)])
@pytest.mark.parametrize("page_size", [0, 1, 60, 5000])
def test_kept_pages_of_columns_hand_out_the_kept_items_in_their_order(tmp_path, seed, problems, page_size):
    """A bundle run reads its kept records as pages of columns (for jobs.plan_columns): the same items in the same
    order as pages of records, each page parents only or no parents, its problems after its records."""
    path = write_zip(tmp_path / "b.zip", bundle_files(users(*_rows(seed, 0.0))))
    about, rng = {"roles": sorted(ROLES)}, random.Random(seed)
    out = io.BytesIO()
    with open_bundle(path) as bundle:
        pages = [[item for record in page for item in [record] + [RecordProblem(record.source_id, "odd", "{}")] * (
            rng.random() < problems)] for page in bundle.iter_roster("s1", set(ROLES), page_size=50)]
    keep_records(pages, out, about)
    out.seek(0)
    records = [item for page in kept_pages(out, about, page_size) for item in page]
    out.seek(0)
    got = list(kept_pages(out, about, page_size, columns=True))
    assert [item for page in got for item in page] == records and records
    role = PersonRecord._fields.index("role")
    for page in got:
        assert type(page) is PersonColumns and len(page) == page.count + len(page.problems)
        assert len({value == "parent" for value in page.columns[role]}) <= 1
        assert page.records() == [item for item in page if type(item) is PersonRecord]
    assert any(page.problems for page in got) == bool(problems)
