"""History at a glance: the geometry of a school's run-history chart, computed here and drawn by
_history_chart.html as SVG (no script, no inline style: colours come from classes in portal.css).

Pure (no Flask, no database): data in (one RunPoint per run, oldest first), a Chart out.
Top panel: rostered, active people per role after each run (carried forward over runs that changed nothing).
Bottom panel: created / updated / archived / issues per run; held and failed runs are marked on both panels.
"""
from dataclasses import dataclass, field

ROLE_SERIES = (("student", "Students"), ("teacher", "Teachers"), ("staff", "Staff"), ("school_admin", "School admins"))
COUNT_SERIES = (("created", "Created"), ("updated", "Updated"), ("archived", "Archived"), ("issues", "Issues"))
MARKED = {"needs_review": "Held for review", "failed": "Failed"}
WIDTH, LEFT, RIGHT = 720, 56, 12
TOP_Y, TOP_H = 14, 150      # rostered people panel
BARS_Y, BARS_H = 200, 110   # counts panel
HEIGHT = BARS_Y + BARS_H + 44  # room for run numbers and dates
MAX_LABELS = 8
MAX_GROUP = 64  # the widest group of four bars


@dataclass(frozen=True)
class RunPoint:
    """One run as the chart needs it; `roles` is None when the run left no role counts (nothing applied)."""

    run_id: int
    day: str  # the local date, e.g. "Dec 1"
    status: str
    trigger: str
    created: int = 0
    updated: int = 0
    archived: int = 0
    issues: int = 0
    roles: dict[str, int] | None = None
    number: int | None = None  # the run's number within its school (run_id when it has none)

    @property
    def shown(self) -> int:
        return self.number or self.run_id


@dataclass
class Chart:
    title: str
    desc: str
    width: int = WIDTH
    height: int = HEIGHT
    lines: list[dict] = field(default_factory=list)     # role, label, points "x,y x,y", dots [(x, y, title)]
    bars: list[dict] = field(default_factory=list)      # kind, x, y, w, h, title
    marks: list[dict] = field(default_factory=list)     # status, label, x, w, title
    top_ticks: list[tuple] = field(default_factory=list)   # (y, text)
    bar_ticks: list[tuple] = field(default_factory=list)
    x_labels: list[tuple] = field(default_factory=list)    # (x, run number, day when it changes)
    rows: list[RunPoint] = field(default_factory=list)     # the table fallback, newest first
    roles: tuple = ROLE_SERIES
    counts: tuple = COUNT_SERIES
    frame: dict = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.rows


def nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 5 × 10^k at or above value (at least 1), so ticks are round numbers."""
    value = max(1, value)
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def carried_roles(points: list[RunPoint]) -> list[dict[str, int] | None]:
    """Each run's role counts, the last known ones carried over runs that changed nothing."""
    carried, last = [], None
    for point in points:
        last = point.roles if point.roles is not None else last
        carried.append(last)
    return carried


def tick_values(top: int) -> list[int]:
    """Whole, round ticks from 0 to a nice_ceiling: 50 → 0, 10, … 50; 20 → 0, 5, … 20; 2 → 0, 1, 2."""
    if top <= 5:
        intervals = top
    else:
        intervals = 4 if str(top)[0] == "2" else 5
    return [top * i // intervals for i in range(intervals + 1)]


def _ticks(top: int, y0: int, height: int) -> list[tuple]:
    return [(round(y0 + height - height * value / top, 1), f"{value:,}") for value in tick_values(top)]


def _summary(points: list[RunPoint], carried: list) -> str:
    first, last = next((c for c in carried if c), None), carried[-1] if carried else None
    parts = []
    if first and last:
        for role, label in ROLE_SERIES:
            if first.get(role) or last.get(role):
                parts.append(f"{label} {first.get(role, 0):,} → {last.get(role, 0):,}")
    held = sum(1 for p in points if p.status == "needs_review")
    failed = sum(1 for p in points if p.status == "failed")
    span = f"From {points[0].day} to {points[-1].day}" if points[0].day != points[-1].day else f"On {points[0].day}"
    people = f"; rostered people: {', '.join(parts)}" if parts else ""
    return f"{span}, {len(points)} run{'s' if len(points) != 1 else ''} ({held} held, {failed} failed){people}."


def history_chart(points: list[RunPoint], school_name: str = "") -> Chart:
    """The chart of these runs (oldest first); an empty list gives an empty chart."""
    title = f"Sync history of {school_name}" if school_name else "Sync history"
    if not points:
        return Chart(title=title, desc="No syncs yet.")
    carried = carried_roles(points)
    chart = Chart(title=title, desc=_summary(points, carried), rows=list(reversed(points)))
    plot_w = WIDTH - LEFT - RIGHT
    step = plot_w / len(points)
    centre = [LEFT + step * (i + 0.5) for i in range(len(points))]
    chart.frame = {"left": LEFT, "right": WIDTH - RIGHT, "top_y": TOP_Y, "top_bottom": TOP_Y + TOP_H,
                   "bars_y": BARS_Y, "bars_bottom": BARS_Y + BARS_H, "label_y": BARS_Y + BARS_H + 18}

    top = nice_ceiling(max((max(c.values(), default=0) for c in carried if c), default=0))
    chart.top_ticks = _ticks(top, TOP_Y, TOP_H)
    for role, label in ROLE_SERIES:
        coords = [(x, c.get(role, 0), p) for x, c, p in zip(centre, carried, points) if c is not None]
        if not any(value for _, value, _ in coords):
            continue
        xy = [(round(x, 1), round(TOP_Y + TOP_H - TOP_H * value / top, 1), value, p) for x, value, p in coords]
        chart.lines.append({"role": role, "label": label, "points": " ".join(f"{x},{y}" for x, y, _, _ in xy),
                            "dots": [(x, y, f"Run #{p.shown}, {p.day}: {value:,} {label.lower()}")
                                     for x, y, value, p in xy]})

    tallest = nice_ceiling(max(max(getattr(p, k) for k, _ in COUNT_SERIES) for p in points))
    chart.bar_ticks = _ticks(tallest, BARS_Y, BARS_H)
    group = min(step * 0.8, MAX_GROUP)  # one run alone gets bars, not a wall
    width = group / len(COUNT_SERIES)
    for x, point in zip(centre, points):
        for n, (kind, label) in enumerate(COUNT_SERIES):
            value = getattr(point, kind)
            if not value:
                continue
            h = max(1.5, BARS_H * value / tallest)  # a small count stays visible
            chart.bars.append({"kind": kind, "x": round(x - group / 2 + n * width, 1), "w": round(width, 1),
                               "y": round(BARS_Y + BARS_H - h, 1), "h": round(h, 1),
                               "title": f"Run #{point.shown}, {point.day}: {value:,} {label.lower()}"})
        if point.status in MARKED:
            chart.marks.append({"status": point.status, "label": MARKED[point.status], "x": round(x - step / 2, 1),
                                "w": round(step, 1), "cx": round(x, 1),
                                "title": f"Run #{point.shown}, {point.day}: {MARKED[point.status].lower()}"})
    every = max(1, -(-len(points) // MAX_LABELS))
    shown_day = None
    for i, (x, p) in enumerate(zip(centre, points)):
        if i % every:
            continue
        chart.x_labels.append((round(x, 1), f"#{p.shown}", "" if p.day == shown_day else p.day))
        shown_day = p.day
    return chart
