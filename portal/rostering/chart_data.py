"""The runs behind the history chart, for one school or every school of an overview, in two queries."""
from sqlalchemy import func

from store.db import db
from store.models import RunRoleCount, School, SyncRun

from .chart import Chart, RunPoint, history_chart

CHART_RUNS = 30  # the newest runs each chart shows


def _day(moment, zone) -> str:
    local = moment.astimezone(zone)
    return f"{local:%b} {local.day}"


def run_points(schools: list[School], limit: int = CHART_RUNS) -> dict[int, list[RunPoint]]:
    """Each school's newest `limit` runs that could change the directory (previews never do), oldest first."""
    if not schools:
        return {}
    ranked = (db.select(SyncRun.id, func.row_number().over(partition_by=SyncRun.school_id,
                                                            order_by=SyncRun.id.desc()).label("n"))
              .where(SyncRun.school_id.in_([s.id for s in schools]), SyncRun.trigger != "preview").subquery())
    runs = db.session.execute(
        db.select(SyncRun.id, SyncRun.school_id, SyncRun.status, SyncRun.trigger, SyncRun.created_at,
                  SyncRun.started_at, SyncRun.created, SyncRun.updated, SyncRun.archived, SyncRun.issues,
                  SyncRun.number)
        .join(ranked, ranked.c.id == SyncRun.id).where(ranked.c.n <= limit).order_by(SyncRun.id)).all()
    roles: dict[int, dict[str, int]] = {}
    for run_id, role, people in db.session.execute(
            db.select(RunRoleCount.run_id, RunRoleCount.role, RunRoleCount.people)
            .join(ranked, ranked.c.id == RunRoleCount.run_id).where(ranked.c.n <= limit)):
        roles.setdefault(run_id, {})[role] = people
    zones = {s.id: s.district.zone for s in schools}
    points: dict[int, list[RunPoint]] = {s.id: [] for s in schools}
    for run in runs:
        # A run that archived the last rostered people left no role rows: its point is zero, not "unknown".
        counts = roles.get(run.id, {} if run.status == "succeeded" and run.archived else None)
        points[run.school_id].append(RunPoint(
            run.id, _day(run.started_at or run.created_at, zones[run.school_id]), run.status, run.trigger,
            run.created, run.updated, run.archived, run.issues,
            counts, run.number))
    return points


def school_charts(schools: list[School]) -> dict[int, Chart]:
    points = run_points(schools)
    return {s.id: history_chart(points[s.id], s.name) for s in schools}


def chart_context(school: School) -> dict:
    """The Rostering page's chart section (full page and its htmx refresh alike)."""
    return {"school": school, "chart": school_charts([school])[school.id], "chart_id": school.id}
