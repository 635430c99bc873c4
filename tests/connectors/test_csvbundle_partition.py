"""One pass over users.csv for several schools: each record reaches every school it belongs to, for that school's
roles; a bundle with errors raises after the last page."""
import pytest

from connectors.csvbundle import BundleInvalid, open_bundle
from connectors.csvbundle.partition import school_pages
from tests.connectors.csv_helpers import bundle_files, user_row, users, write_zip


def _pages(tmp_path, rows, schools):
    path = write_zip(tmp_path / "b.zip", bundle_files(users_csv=users(*rows)))
    with open_bundle(path) as bundle:
        out = {school: [] for school in schools}
        for pages in school_pages(bundle, schools, page_size=2):
            for school, page in pages.items():
                out[school] += [(r.source_id, getattr(r, "role", "problem")) for r in page]
    return out


def test_each_record_goes_to_each_of_its_schools_for_that_schools_roles(tmp_path):
    rows = [user_row("a", org="s1"), user_row("b", org="s2"), user_row("t", role="teacher", org="s1,S2"),
            user_row("p", role="guardian", org="s1"), user_row("c", org="s1", agents="p")]
    out = _pages(tmp_path, rows, {"s1": {"student", "teacher", "parent"}, "S2": {"student"}})
    assert sorted(out["s1"]) == [("a", "student"), ("c", "student"), ("p", "parent"), ("t", "teacher")]
    assert sorted(out["S2"]) == [("b", "student")]  # no teachers or parents synced there; ids match any case


def test_a_bundle_with_errors_raises_after_the_pages(tmp_path):
    path = write_zip(tmp_path / "b.zip", bundle_files(users_csv=users(user_row("a"), user_row("a"))))
    with open_bundle(path) as bundle, pytest.raises(BundleInvalid):
        for _ in school_pages(bundle, {"s1": {"student"}}):
            pass


def test_a_row_that_cannot_be_read_goes_to_the_schools_it_names_only(tmp_path):
    """It went to every school of the district bundle: each other school's run page, issues and report then named
    this user's sourcedId and problem."""
    rows = [user_row("a", org="s1"), user_row("odd", role="janitor", org="s2"), user_row("nameless", org="s2",
                                                                                     given="", family="")]
    out = _pages(tmp_path, rows, {"s1": {"student"}, "s2": {"student"}})
    assert sorted(out["s1"]) == [("a", "student")]
    assert sorted(out["s2"]) == [("nameless", "problem"), ("odd", "problem")]


def test_a_delta_row_naming_another_school_tells_the_school_it_left_that_it_left(tmp_path):
    """A delta row is the user's whole current record: a student moved from s1 to s2 reaches s2 as a student and s1
    as a deletion (the planner acts there only if they are rostered); one naming only unmapped schools reaches
    every school so."""
    manifest = "propertyName,value\noneroster.version,1.1\nfile.orgs,bulk\nfile.users,delta\n"
    rows = [user_row("moved", org="s2", status="active"), user_row("away", org="s3", status="active"),
            user_row("p", role="guardian", org="s3", status="active"), user_row("stay", org="s1", status="active")]
    orgs = "sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId\nd1,,,D,district,,\n" + \
        "".join(f"s{i},,,School {i},school,,d1\n" for i in (1, 2, 3))
    path = write_zip(tmp_path / "d.zip", bundle_files(users_csv=users(*rows), manifest_csv=manifest, orgs_csv=orgs))
    with open_bundle(path) as bundle:
        out = {"s1": [], "s2": []}
        for pages in school_pages(bundle, {"s1": {"student", "parent"}, "s2": {"student"}}):
            for school, page in pages.items():
                out[school] += [(r.source_id, r.status, r.school_ids) for r in page]
    assert sorted(out["s1"]) == [("away", "tobedeleted", ()), ("moved", "tobedeleted", ()), ("p", "active", ("s3",)),
                                 ("stay", "active", ("s1",))]
    assert sorted(out["s2"]) == [("away", "tobedeleted", ()), ("moved", "active", ("s2",)),
                                 ("stay", "tobedeleted", ())]
