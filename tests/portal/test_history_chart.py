"""History at a glance: the series and geometry (pure), the per-run role counts a sync records, and the chart on
the Rostering page and the district overview."""
import re

import pytest
from sqlalchemy import event

from portal.rostering.chart import RunPoint, carried_roles, history_chart, nice_ceiling, tick_values
from portal.rostering.chart_data import run_points
from store.db import db
from store.models import RunRoleCount
from tests.factories import make_district, make_district_manager, make_owner, make_run, make_school
from tests.support import connect, sandbox_fixture, sync


def point(run_id, status="succeeded", roles=None, **counts):
    return RunPoint(run_id, f"Dec {run_id}", status, "nightly", roles=roles, **counts)


# -- the pure series ------------------------------------------------------------------------------

def test_role_counts_carry_over_runs_that_changed_nothing():
    points = [point(1, roles={"student": 100}), point(2, "failed"), point(3, "needs_review"),
              point(4, roles={"student": 90, "teacher": 5})]
    assert carried_roles(points) == [{"student": 100}, {"student": 100}, {"student": 100},
                                     {"student": 90, "teacher": 5}]


@pytest.mark.parametrize("value, ceiling", [(0, 1), (1, 1), (3, 5), (7, 10), (10, 10), (11, 20), (120, 200),
                                            (501, 1000), (100_000, 100_000)])
def test_axes_end_on_round_numbers(value, ceiling):
    assert nice_ceiling(value) == ceiling


def test_lines_bars_and_marks_follow_the_runs():
    points = [point(1, roles={"student": 100, "teacher": 10}, created=110),
              point(2, "needs_review", issues=2),
              point(3, roles={"student": 50, "teacher": 10}, archived=50),
              point(4, "failed")]
    chart = history_chart(points, "Lincoln High")
    assert chart.title == "Sync history of Lincoln High"
    assert chart.desc == ("From Dec 1 to Dec 4, 4 runs (1 held, 1 failed); rostered people: Students 100 → 50, "
                          "Teachers 10 → 10.")
    assert [line["role"] for line in chart.lines] == ["student", "teacher"]  # no staff, no admins: no line
    students = [(float(x), float(y)) for x, y in (p.split(",") for p in chart.lines[0]["points"].split())]
    assert len(students) == 4 and students[0][1] < students[2][1]  # 100 drawn higher (smaller y) than 50
    assert students[1][1] == students[0][1] and students[3][1] == students[2][1]  # carried over held/failed runs
    assert [x for x, _ in students] == sorted(x for x, _ in students)
    assert [(m["status"], m["title"]) for m in chart.marks] == [("needs_review", "Run #2, Dec 2: held for review"),
                                                                ("failed", "Run #4, Dec 4: failed")]
    kinds = {(b["kind"], b["title"]) for b in chart.bars}
    assert kinds == {("created", "Run #1, Dec 1: 110 created"), ("issues", "Run #2, Dec 2: 2 issues"),
                     ("archived", "Run #3, Dec 3: 50 archived")}
    created = next(b for b in chart.bars if b["kind"] == "created")
    archived = next(b for b in chart.bars if b["kind"] == "archived")
    assert created["h"] == pytest.approx(2 * archived["h"] * 110 / 100, rel=0.01)  # linear: 110 vs 50 on a 200 axis
    assert [t for _, t in chart.bar_ticks] == ["0", "50", "100", "150", "200"]
    assert [x[1:] for x in chart.x_labels] == [("#1", "Dec 1"), ("#2", "Dec 2"), ("#3", "Dec 3"), ("#4", "Dec 4")]
    assert [t for _, t in chart.top_ticks][-1] == "100"
    assert [r.run_id for r in chart.rows] == [4, 3, 2, 1]  # the table lists newest first


def test_a_small_count_beside_a_big_one_stays_visible():
    chart = history_chart([point(1, roles={"student": 10_000}, created=10_000), point(2, roles={"student": 10_000},
                                                                                        updated=1)])
    assert next(b for b in chart.bars if b["kind"] == "updated")["h"] >= 1.5


def test_no_runs_make_an_empty_chart():
    chart = history_chart([], "New School")
    assert chart.empty and chart.desc == "No syncs yet."


def test_runs_are_labelled_without_crowding_and_a_day_once():
    chart = history_chart([point(n, roles={"student": n}) for n in range(1, 31)])
    assert 2 <= len(chart.x_labels) <= 9 and chart.x_labels[0][1:] == ("#1", "Dec 1")
    same_day = history_chart([RunPoint(n, "Dec 1", "succeeded", "nightly") for n in (4, 5, 6)])
    assert [x[1:] for x in same_day.x_labels] == [("#4", "Dec 1"), ("#5", ""), ("#6", "")]


@pytest.mark.parametrize("top, ticks", [(1, [0, 1]), (2, [0, 1, 2]), (5, [0, 1, 2, 3, 4, 5]),
                                        (10, [0, 2, 4, 6, 8, 10]), (20, [0, 5, 10, 15, 20]),
                                        (50, [0, 10, 20, 30, 40, 50]), (200, [0, 50, 100, 150, 200]),
                                        (100_000, [0, 20_000, 40_000, 60_000, 80_000, 100_000])])
def test_ticks_are_whole_round_numbers(top, ticks):
    assert tick_values(top) == ticks


# -- what a sync records --------------------------------------------------------------------------

box = sandbox_fixture(seed=41, students=60)


def _counts(run):
    return dict(db.session.execute(db.select(RunRoleCount.role, RunRoleCount.people)
                                   .where(RunRoleCount.run_id == run.id)).all())


def test_each_applied_sync_records_rostered_people_by_role(app, box):
    school = make_school()
    connect(school, box, archive=True)
    first = sync(school)
    counts = _counts(first)
    assert set(counts) == {"student", "teacher", "staff", "school_admin"}
    assert sum(counts.values()) == first.created
    gone = box.mutate(remove_fraction=0.05, seed=3, remove_mode="drop")["dropped"]
    second = sync(school, threshold_override=100)
    assert sum(_counts(second).values()) == first.created - second.archived and second.archived
    assert gone
    preview = sync(school, trigger="preview")
    assert _counts(preview) == {}  # a preview changes nothing and records nothing


def test_the_chart_data_for_many_schools_takes_two_queries(app):
    district = make_district()
    schools = [make_school(district) for _ in range(4)]
    for school in schools:
        for n in range(3):
            run = make_run(school, status="succeeded", created=n)
            db.session.add(RunRoleCount(run_id=run.id, role="student", people=10 + n))
        make_run(school, trigger="preview", status="succeeded")
    db.session.commit()
    assert all(s.district.name for s in schools)  # loaded, as the overview has them
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        points = run_points(schools)
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert len(statements) == 2
    assert [[p.roles for p in points[s.id]] for s in schools] == [[{"student": 10}, {"student": 11},
                                                                   {"student": 12}]] * 4


# -- on the pages ---------------------------------------------------------------------------------

def _svg(html):
    match = re.search(r'<svg viewBox="0 0 720 354" role="img" aria-labelledby="(hc-title-\d+) (hc-desc-\d+)"', html)
    assert match, "no chart"
    return match


def test_the_rostering_page_shows_the_chart_with_held_and_failed_runs(client, auth, box):
    school = make_school()
    owner = make_owner(school)
    connect(school, box)
    sync(school)
    make_run(school, status="failed", error_message="The SIS was down.")
    make_run(school, status="needs_review", would_archive=40, rostered_total=60)
    auth.login(owner.email)
    html = client.get(f"/schools/{school.slug}/rostering").get_data(as_text=True)
    _svg(html)
    assert f"<title id=\"hc-title-{school.id}\">Sync history of {school.name}</title>" in html
    assert "3 runs (1 held, 1 failed)" in html
    assert html.count('class="mark mark-failed"') == 1 and html.count('class="mark mark-needs_review"') == 1
    assert 'class="series line-student"' in html and "Show the chart as a table" in html
    assert "style=" not in html.split('id="history-glance"')[1].split("</figure>")[0]  # strict CSP: no inline style
    again = client.get(f"/schools/{school.slug}/rostering/runs/chart", headers={"HX-Request": "true"})
    assert again.status_code == 200 and again.get_data(as_text=True).startswith('<div id="history-glance"')


def test_a_school_without_syncs_says_so(client, auth, app):
    school = make_school()
    auth.login(make_owner(school).email)
    html = client.get(f"/schools/{school.slug}/rostering").get_data(as_text=True)
    assert "No syncs yet: the chart appears after the first sync." in html


def test_the_district_overview_shows_a_chart_per_school(client, auth, box):
    district = make_district()
    first, second = make_school(district, name="Alder Elementary"), make_school(district, name="Birch Middle")
    make_school(make_district(), name="Elsewhere High")
    connect(first, box)
    sync(first)
    manager = make_district_manager(district)
    auth.login(manager.email)
    html = client.get(f"/districts/{district.id}/rostering").get_data(as_text=True)
    assert "History at a glance" in html
    assert f'id="hc-title-{first.id}">Sync history of Alder Elementary' in html
    assert "Birch Middle" in html and html.count("No syncs yet: the chart appears after the first sync.") == 1
    assert "Elsewhere High" not in html


def test_runs_are_called_by_their_number_within_the_school():
    chart = history_chart([RunPoint(40, "Dec 9", "failed", "nightly", number=3)])
    assert chart.x_labels[0][1] == "#3" and chart.marks[0]["title"] == "Run #3, Dec 9: failed"
