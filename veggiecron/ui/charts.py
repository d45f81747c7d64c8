"""Small SVG charts of a job's recent runs, drawn on the server (no script, no style attribute).

Bars are durations, the line is lateness; a failed run's bar is crossed out and drawn in the
failure colour, so failures show by shape as well as by colour. Colours come from the page's
stylesheet through classes; the numbers are the only values written into the markup.
"""

from __future__ import annotations

from collections import OrderedDict

from ..model import Run, RunOutcome
from .words import duration

FAILED, OK = RunOutcome.FAILED, RunOutcome.OK
# A job's chart changes only when it runs, and the list is drawn again every few seconds while
# it is open: charts are remembered by the runs they show (ids are never reused).
ChartKey = tuple[int, int, tuple[tuple[int | None, float, float, RunOutcome], ...]]
_drawn: OrderedDict[ChartKey, str] = OrderedDict()
CACHE_ENTRIES = 20_000


def run_chart(runs: list[Run], width: int = 120, height: int = 28) -> str:
    """An <svg> of `runs` (newest first, as the store answers them), oldest at the left."""
    if not runs:
        return ""
    # Keyed by what is drawn, not by run ids alone: ids are a database's own, and a process may
    # serve more than one database (tests do), so two different histories can share them.
    key = (width, height, tuple((r.id, r.started_at, r.duration_ms, r.outcome) for r in runs))
    svg = _drawn.get(key)
    if svg is None:
        svg = _drawn[key] = _draw(runs, width, height)
        if len(_drawn) > CACHE_ENTRIES:
            _drawn.popitem(last=False)
    return svg


def _draw(runs: list[Run], width: int, height: int) -> str:
    ordered = runs[::-1]
    n = len(ordered)
    slot = width / n
    bar = max(1.0, slot * 0.7)
    pad = (slot - bar) / 2
    top = 6.0  # room above the bars for the failure crosses
    room = height - top - 1
    base = height - 1
    durations = [r.duration_ms for r in ordered]
    lateness = [max((r.started_at - r.due_at) * 1000.0, 0.0) for r in ordered]
    longest = max(durations) or 1.0
    latest = max(lateness) or 1.0
    scale, late_scale = room / longest, room / latest
    parts: list[str] = []
    points: list[str] = []
    failed = 0
    for i, run in enumerate(ordered):
        x = i * slot + pad
        h = max(1.0, durations[i] * scale)
        outcome = run.outcome
        kind = "fail" if outcome is FAILED else "ok" if outcome is OK else "skip"
        parts.append(f'<rect class="bar {kind}" x="{x:.1f}" y="{base - h:.1f}" width="{bar:.1f}" height="{h:.1f}"/>')
        if outcome is FAILED:
            failed += 1
            cx, s = x + bar / 2, min(2.5, bar / 2 + 1)
            d = f"M{cx - s:.1f} {top - 1 - s:.1f}l{2 * s:.1f} {2 * s:.1f}m0 {-2 * s:.1f}l{-2 * s:.1f} {2 * s:.1f}"
            parts.append(f'<path class="cross" d="{d}"/>')
        points.append(f"{x + bar / 2:.1f},{base - lateness[i] * late_scale:.1f}")
    if n > 1:
        parts.append(f'<polyline class="late" points="{" ".join(points)}"/>')
    label = (
        f"Last {n} runs: {n - failed} not failed, {failed} failed; longest {duration(longest)}, "
        f"latest start {duration(max(lateness))} late"
    )
    return (
        f'<svg class="chart" role="img" aria-label="{label}" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}">{"".join(parts)}</svg>'
    )
