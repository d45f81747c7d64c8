"""Small SVG charts of a job's recent runs, drawn on the server (no script, no style attribute).

Bars are durations, the line is lateness; a failed run's bar is crossed out and drawn in the
failure colour, so failures show by shape as well as by colour. Colours come from the page's
stylesheet through classes; the numbers are the only values written into the markup.
"""

from __future__ import annotations

from ..model import Run, RunOutcome
from .words import duration


def run_chart(runs: list[Run], width: int = 120, height: int = 28) -> str:
    """An <svg> of `runs` (newest first, as the store answers them), oldest at the left."""
    if not runs:
        return ""
    ordered = runs[::-1]
    n = len(ordered)
    slot = width / n
    bar = max(1.0, slot * 0.7)
    top = 6.0  # room above the bars for the failure crosses
    room = height - top - 1
    longest = max(r.duration_ms for r in ordered) or 1.0
    latest = max(max(r.lateness_ms, 0.0) for r in ordered) or 1.0
    failed = sum(r.outcome is RunOutcome.FAILED for r in ordered)
    parts: list[str] = []
    points: list[str] = []
    for i, run in enumerate(ordered):
        x = i * slot + (slot - bar) / 2
        h = max(1.0, room * run.duration_ms / longest)
        kind = "fail" if run.outcome is RunOutcome.FAILED else ("ok" if run.outcome is RunOutcome.OK else "skip")
        parts.append(
            f'<rect class="bar {kind}" x="{x:.1f}" y="{height - 1 - h:.1f}" width="{bar:.1f}" height="{h:.1f}"/>'
        )
        if kind == "fail":
            cx, s = x + bar / 2, min(2.5, bar / 2 + 1)
            parts.append(
                f'<path class="cross" d="M{cx - s:.1f} {top - 1 - s:.1f}l{2 * s:.1f} {2 * s:.1f}'
                f'm0 {-2 * s:.1f}l{-2 * s:.1f} {2 * s:.1f}"/>'
            )
        lateness = max(run.lateness_ms, 0.0)
        points.append(f"{x + bar / 2:.1f},{height - 1 - room * lateness / latest:.1f}")
    if n > 1:
        parts.append(f'<polyline class="late" points="{" ".join(points)}"/>')
    label = (
        f"Last {n} runs: {n - failed} not failed, {failed} failed; longest {duration(longest)}, "
        f"latest start {duration(max(r.lateness_ms for r in ordered))} late"
    )
    return (
        f'<svg class="chart" role="img" aria-label="{label}" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}">{"".join(parts)}</svg>'
    )
