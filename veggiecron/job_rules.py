"""What held jobs share: the rules a compiled job is scheduled by, one instance per combination."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from .policies import JobPolicy, Timing


@dataclass(frozen=True, slots=True)
class JobRules:
    """How a compiled job is scheduled: its timing, its policy and the fields that seldom differ
    from one job to the next, as stored when it was compiled. Held jobs share one instance per
    combination (see shared_rules): a held job then costs one pointer for all of them."""

    timing: Timing  # the schedule, shifted by the job's jitter
    policy: JobPolicy
    enabled: bool
    max_runs: int | None
    keep_failures: bool
    consecutive_failures: int


def shared_rules(rules: JobRules) -> JobRules:
    """An equal instance already in use, if any. A job whose timing is its own (a jitter offset, a
    once time, skipped calendars) has rules of its own too."""
    try:
        return _first_equal_rules(rules)
    except TypeError:  # a timing that cannot be hashed is not shared
        return rules


@functools.lru_cache(maxsize=4096)
def _first_equal_rules(rules: JobRules) -> JobRules:
    return rules
