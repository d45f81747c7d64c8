"""data.expect's bounds: each list's own bound holds for new jobs, not for jobs stored before it."""

from __future__ import annotations

import pytest

from veggiecron.errors import Invalid
from veggiecron.jobtypes.http.expect import MAX_CHECKS, MAX_LIST_CHECKS, parse_expect


def test_the_lists_bounds_and_status_and_max_ms_make_the_total() -> None:
    assert sum(MAX_LIST_CHECKS.values()) + 2 == MAX_CHECKS  # so the document states the total exactly


def test_a_list_past_its_bound_is_refused_new_but_read_when_stored() -> None:
    stored = {"body_contains": ["a", "b", "c", "d"], "json": [{"pointer": "/x", "exists": True}]}
    with pytest.raises(Invalid) as refused:
        parse_expect(stored)
    assert refused.value.field == "data.expect.body_contains"
    assert parse_expect(stored, strict=False).body_contains == ("a", "b", "c", "d")
