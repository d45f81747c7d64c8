"""The slots skipped behind a lapsed claim, planned again by the job's catch_up policy."""

from __future__ import annotations

import pytest

from tests.unit.conftest import JOB_TYPES
from veggiecron.cluster.recovery import replan_skipped
from veggiecron.compiler import compile_job
from veggiecron.model import Claim, Job

T0 = 1_700_000_000.0
SKIPPED = [T0 + i for i in range(1, 6)]


def job(**policy: object) -> Job:
    data = {"url": "http://127.0.0.1:9/"}
    return Job(7, 1, "j", "http", data, "every 1 seconds", "UTC", True, T0, T0, 1, T0, T0, policy=dict(policy))


@pytest.mark.parametrize(
    ("policy", "sent"),
    [
        ({"catch_up": "all"}, SKIPPED),
        ({"catch_up": "all", "max_catch_up": 2}, SKIPPED[-2:]),
        ({}, SKIPPED[-1:]),  # latest, the default
        ({"catch_up": "none"}, []),
        ({"catch_up": "all", "grace_seconds": 3}, SKIPPED[-3:]),
    ],
)
def test_each_skipped_slot_is_sent_or_missed_with_a_reason_naming_the_lapsed_lease(
    policy: dict[str, object], sent: list[float]
) -> None:
    compiled = compile_job(job(**policy), JOB_TYPES)
    recovery = replan_skipped(compiled, Claim(7, T0, 2), list(reversed(SKIPPED)), now=T0 + 6)
    assert list(recovery.send) == sent
    missed = [slot for slot, _ in recovery.missed]
    assert sorted(missed + list(recovery.send)) == SKIPPED and not set(missed) & set(sent)
    for _, reason in recovery.missed:
        assert reason.startswith("missed: skipped while the run due at 2023-11-14T22:13:20.000000+00:00")
        assert "lease (epoch 1) lapsed" in reason
