"""The cluster's claim planner: which slots a claim sends, buffers or records, from plain numbers."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from tests.unit.conftest import T0, compiled
from veggiecron.cluster.planner import plan_claims, plan_job
from veggiecron.model import DueJob, Job, RunOutcome


def job(schedule: str = "every 10 seconds", next_run: float = T0 + 10, **fields: Any) -> Job:
    policy = fields.pop("policy", {})
    return replace(
        Job(
            id=7,
            user_id=1,
            name="j",
            type="http",
            data={"url": "http://127.0.0.1:9/"},
            schedule=schedule,
            timezone="UTC",
            enabled=True,
            next_run=next_run,
            anchor=T0,
            version=3,
            date_created=T0,
            date_updated=T0,
            policy=policy,
        ),
        **fields,
    )


def due(stored: Job, in_flight: int = 0, buffered: bool = False) -> DueJob:
    return DueJob(stored, in_flight, buffered)


def test_a_slot_claimed_ahead_of_its_time_is_sent_on_time_and_the_job_moves_on() -> None:
    stored = job()
    decision = plan_job(compiled(stored), due(stored), now=T0 + 9.8)
    assert decision.claims == (T0 + 10,)
    assert decision.next_run == T0 + 20
    assert decision.counted == 1 and not decision.records


def test_after_downtime_catch_up_latest_sends_one_slot_for_all_it_missed() -> None:
    stored = job()
    decision = plan_job(compiled(stored), due(stored), now=T0 + 3605)
    assert decision.claims == (T0 + 3600,)
    # The slots folded into it are accounted for by one missed record, at the oldest.
    assert [(r.due_at, r.outcome) for r in decision.records] == [(T0 + 10, RunOutcome.MISSED)]
    assert decision.records[0].error is not None and "passed over by catch_up=latest" in decision.records[0].error
    assert decision.next_run == T0 + 3610


def test_a_slot_later_than_its_grace_is_recorded_missed_and_not_sent() -> None:
    stored = job(schedule="every 60 seconds", next_run=T0 + 60, policy={"grace_seconds": 5})
    decision = plan_job(compiled(stored), due(stored), now=T0 + 90)
    assert decision.claims == ()
    assert [r.outcome for r in decision.records] == [RunOutcome.MISSED]
    assert decision.records[0].error is not None and "grace_seconds" in decision.records[0].error


def test_overlap_skip_records_the_slot_while_a_run_is_in_flight_on_any_node() -> None:
    stored = job()
    busy = plan_job(compiled(stored), due(stored, in_flight=1), now=T0 + 10)
    assert busy.claims == ()
    assert [(r.due_at, r.outcome) for r in busy.records] == [(T0 + 10, RunOutcome.SKIPPED)]
    assert busy.next_run == T0 + 20 and busy.counted == 1
    idle = plan_job(compiled(stored), due(stored), now=T0 + 10)
    assert idle.claims == (T0 + 10,) and not idle.records


def test_overlap_allow_sends_whatever_is_in_flight() -> None:
    stored = job(policy={"overlap": "allow"})
    assert plan_job(compiled(stored), due(stored, in_flight=5), now=T0 + 10).claims == (T0 + 10,)


def test_overlap_buffer_one_lets_one_slot_wait_and_skips_the_rest() -> None:
    stored = job(policy={"overlap": "buffer_one"})
    first = plan_job(compiled(stored), due(stored, in_flight=1), now=T0 + 10)
    assert first.claims == () and first.buffered == (T0 + 10,) and not first.records
    second = plan_job(compiled(stored), due(stored, in_flight=1, buffered=True), now=T0 + 10)
    assert second.buffered == () and [r.outcome for r in second.records] == [RunOutcome.SKIPPED]


def test_overlap_replace_cancels_the_runs_in_flight() -> None:
    stored = job(policy={"overlap": "replace"})
    decision = plan_job(compiled(stored), due(stored, in_flight=1), now=T0 + 10)
    assert decision.replace and decision.claims == (T0 + 10,)
    assert not plan_job(compiled(stored), due(stored), now=T0 + 10).replace


def test_catch_up_all_with_overlap_skip_sends_every_slot_it_caught_up_on() -> None:
    stored = job(policy={"catch_up": "all"})
    decision = plan_job(compiled(stored), due(stored), now=T0 + 30)
    assert decision.claims == (T0 + 10, T0 + 20, T0 + 30) and not decision.records
    assert decision.counted == 3


def test_catch_up_all_with_a_run_in_flight_skips_as_overlap_says() -> None:
    stored = job(policy={"catch_up": "all"})
    decision = plan_job(compiled(stored), due(stored, in_flight=1), now=T0 + 30)
    assert decision.claims == ()
    assert [r.outcome for r in decision.records] == [RunOutcome.SKIPPED] * 3


def test_max_runs_caps_the_slots_and_ends_the_job() -> None:
    stored = job(max_runs=3, run_count=2, policy={"overlap": "allow", "catch_up": "all"})
    decision = plan_job(compiled(stored), due(stored), now=T0 + 30)
    assert decision.claims == (T0 + 10,)
    assert decision.next_run is None and decision.counted == 1


def test_a_once_job_is_done_after_its_slot() -> None:
    stored = job(schedule=f"once @ {T0 + 10:.0f}")
    decision = plan_job(compiled(stored), due(stored), now=T0 + 10)
    assert decision.claims == (T0 + 10,) and decision.next_run is None


def test_a_job_that_no_longer_compiles_is_recorded_and_looked_at_again_later() -> None:
    stored = job()
    (decision,) = plan_claims([due(stored)], T0 + 10, lambda item: None)
    assert decision.claims == () and decision.counted == 0
    assert decision.next_run is not None and decision.next_run >= T0 + 60
    assert [r.error_class for r in decision.records] == ["invalid_job"]


def test_a_follower_paused_since_it_was_compiled_records_its_triggers_as_skipped() -> None:
    """A pause changes no version: the node's compiled copy says enabled, the row it locked does not."""
    enabled = replace(job(schedule="after parent"), next_run=None)
    paused = replace(enabled, enabled=False, paused_reason="paused after 1 consecutive failed runs")
    item = DueJob(paused, 0, False, (T0 + 1, T0 + 2))
    (decision,) = plan_claims([item], T0 + 3, lambda _: compiled(enabled))
    assert decision.claims == () and decision.buffered == ()
    assert [r.outcome for r in decision.records] == [RunOutcome.SKIPPED, RunOutcome.SKIPPED]
    assert all("disabled" in (r.error or "") for r in decision.records)
