"""Issue 17 item 13: the progress bar moves steadily, its counts are live during the fetch, its colour says the outcome."""
import pytest

from jobs.progress import FETCH_FROM, FETCH_TO, ProgressWriter
from jobs.runs import create_run
from jobs.sync import run_sync
from store.db import db
from store.models import SyncRun
from tests.factories import make_district, make_owner, make_run, make_school
from tests.support import connect, quick_client, sandbox_fixture, text

sandbox = sandbox_fixture(schools=1, students=60, seed=13)


def steps(writer, fetched):
    return [writer.fetch_percent(n) for n in fetched]


@pytest.mark.parametrize("expected", [0, 500, 5000])
def test_the_fetch_share_rises_steadily_and_never_reaches_the_apply(app, expected):
    writer = ProgressWriter(run_id=0, expected=expected)
    page = expected // 50 if expected else 100  # a bar of 50 pages, or pages of 100 when nothing is expected
    percents = steps(writer, range(0, 3 * (expected or 4000), page))
    assert percents == sorted(percents), "never backwards"
    assert max(b - a for a, b in zip(percents, percents[1:])) <= 4, "no leaps (2→6→84 was the complaint)"
    assert FETCH_FROM <= percents[0] and percents[-1] < FETCH_TO + 1


def test_a_first_sync_without_an_estimate_does_not_leap_to_the_end(app):
    writer = ProgressWriter(run_id=0, expected=0)
    assert writer.fetch_percent(100) < 15  # was 84% after the first page


def test_more_people_than_expected_waits_instead_of_going_backwards(app):
    writer = ProgressWriter(run_id=0, expected=1000)
    at_estimate, beyond = writer.fetch_percent(1000), writer.fetch_percent(3000)
    assert at_estimate <= beyond <= FETCH_TO


def test_counts_are_live_while_the_roster_is_read(app, sandbox, monkeypatch):
    monkeypatch.setattr("jobs.progress.PAGE_WRITE_EVERY", 0)  # a write a page: this small roster is read in 0.1 s
    school = make_school(make_district())
    connect(school, sandbox)
    run = create_run(school, trigger="manual")
    seen, engine = [], db.engine

    def as_the_page_reads_it(values):  # what the polled fragment would show now: the committed row
        with engine.connect() as conn:
            row = conn.execute(db.select(SyncRun.status, SyncRun.phase, SyncRun.percent, SyncRun.created,
                                         SyncRun.fetched).where(SyncRun.id == run.id)).one()
        seen.append(row)
    # pages of 10 people: the counts must grow page by page, before the run is final
    run_sync(run.id, on_progress=as_the_page_reads_it, client_factory=lambda s: quick_client(s, page_size=10))
    fetching = [row for row in seen if row.phase.startswith("fetching")]
    created = [row.created for row in fetching]
    assert len(fetching) > 3 and all(row.status == "running" for row in fetching)
    assert created == sorted(created) and 0 < created[len(created) // 2] < created[-1]
    percents = [row.percent for row in seen]
    assert percents == sorted(percents)
    db.session.expire_all()
    assert db.session.get(SyncRun, run.id).status == "succeeded"


@pytest.mark.parametrize("status, issues, css, value", [
    ("succeeded", 0, "progress-succeeded", 100),
    ("succeeded", 3, "progress-issues", 100),
    ("failed", 0, "progress-failed", 35),
    ("needs_review", 0, "progress-needs_review", 90),
    ("skipped", 0, "progress-skipped", 90),  # discarded after review: grey, and not a full bar
])
def test_the_bar_is_coloured_by_outcome(client, auth, status, issues, css, value):
    school = make_school(make_district(), slug="bar")
    owner = make_owner(school)
    auth.login(owner.email)
    percent = 35 if status == "failed" else 100
    run = make_run(school, status=status, issues=issues, percent=percent, phase=status)
    html = text(client.get(f"/schools/bar/rostering/runs/{run.id}/progress"))
    assert f'class="progress {css}" max="100" value="{value}"' in html
    if issues:  # amber, not the green of a clean run
        assert '<span class="badge badge-issues">Succeeded with 3 issues</span>' in html


def test_counts_are_written_at_most_twice_a_second_and_the_last_ones_always(app, sandbox):
    school = make_school(make_district())
    connect(school, sandbox)
    run = create_run(school, trigger="manual")
    seen = []
    run_sync(run.id, on_progress=seen.append, client_factory=lambda s: quick_client(s, page_size=5))
    fetching = [values for values in seen if values.get("phase", "").startswith("fetching")]
    db.session.expire_all()
    done = db.session.get(SyncRun, run.id)
    pages = -(-done.fetched // 5)
    assert done.status == "succeeded" and 0 < len(fetching) < pages  # not one commit a page
    last = max(fetching, key=lambda values: values["fetched"])
    assert last["fetched"] == done.fetched  # the final counts were not held back
