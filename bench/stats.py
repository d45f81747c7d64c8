"""Figures shared by the benchmarks and their load generator."""

from __future__ import annotations

import os
from pathlib import Path


def process_cpu(pid: int) -> tuple[int, float]:
    """A process's parent pid and its user and system CPU seconds, from /proc/<pid>/stat.

    The fields are read after the command name's closing bracket: the name may hold spaces."""
    fields = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], fraction: float) -> float:
    """The value at `fraction` (0 to 1) of the sorted values, nearest rank; NaN when there are none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def histogram_buckets(metrics: str, name: str) -> dict[float, float]:
    """The cumulative buckets (upper bound -> count) of histogram `name` in a /metrics text."""
    buckets: dict[float, float] = {}
    for line in metrics.splitlines():
        if line.startswith(f"{name}_bucket"):
            bound = line.split('le="', 1)[1].split('"', 1)[0]
            buckets[float(bound)] = float(line.split()[-1])
    return buckets


def histogram_quantile(buckets: dict[float, float], fraction: float) -> float:
    """The value at `fraction` of cumulative buckets, interpolated within its bucket as
    Prometheus' histogram_quantile does; NaN when empty."""
    bounds = sorted(buckets)
    if not bounds or buckets[bounds[-1]] <= 0:
        return float("nan")
    rank = fraction * buckets[bounds[-1]]
    lower, below = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if bound == float("inf"):
                return lower
            return lower + (bound - lower) * (rank - below) / max(count - below, 1e-9)
        lower, below = bound, count
    return lower
