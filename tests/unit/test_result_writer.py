"""How a node's results reach the database: what a flush writes at once and what waits for the next.
The store is a fake that records each batch and lets results arrive while it writes, as they do
on a node that keeps sending."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import SimpleNamespace
from typing import Any

from tests.unit.conftest import T0
from veggiecron.cluster.results import DRAIN_AT_LEAST, MAX_BATCH, ResultWriter
from veggiecron.errors import StoreUnavailable
from veggiecron.model import Finished, FinishReport, Run, RunOutcome


class RecordingStore:
    def __init__(self) -> None:
        self.batches: list[int] = []
        self.during: list[Callable[[], None]] = []  # one per write: results that arrive meanwhile
        self.down = False

    async def finish_runs(self, owner: str, lease: float, results: Sequence[Finished]) -> FinishReport:
        if self.down:
            raise StoreUnavailable("the database cannot take this request right now")
        self.batches.append(len(results))
        if self.during:
            self.during.pop(0)()
        return FinishReport(frozenset((f.claim.job_id, f.claim.due_at) for f in results))


def writer(store: RecordingStore) -> tuple[ResultWriter, Callable[[int], None]]:
    written: list[Any] = []
    results = ResultWriter(
        store,  # type: ignore[arg-type]
        "node-a",
        10.0,
        0.2,
        SimpleNamespace(send=lambda *a: None),  # type: ignore[arg-type]
        promoted=lambda claims: None,
        refused=lambda n: None,
        written=written.append,
    )
    sent = iter(range(1_000_000))

    def arrive(count: int) -> None:
        for _ in range(count):
            n = next(sent)
            job = SimpleNamespace(
                id=n, name=f"j{n}", version=1, keep_failures=False, policy=SimpleNamespace(pause_after_failures=None)
            )
            results.add(job, Run(n, T0, T0, 1.0, RunOutcome.OK), 1)  # type: ignore[arg-type]

    return results, arrive


async def test_a_few_results_arriving_during_a_flush_wait_for_the_next() -> None:
    store = RecordingStore()
    results, arrive = writer(store)
    arrive(100)
    store.during = [lambda: arrive(DRAIN_AT_LEAST - 1)]
    assert await results.flush()
    assert store.batches == [100]  # one statement, not one more for the latecomers
    assert len(results.pending) == DRAIN_AT_LEAST - 1
    assert await results.flush()
    assert store.batches == [100, DRAIN_AT_LEAST - 1] and not results.pending


async def test_many_results_arriving_during_a_flush_are_written_at_once() -> None:
    # A busy node: latecomers enough for a statement of their own are not held back.
    store = RecordingStore()
    results, arrive = writer(store)
    arrive(100)
    store.during = [lambda: arrive(DRAIN_AT_LEAST), lambda: arrive(3)]
    assert await results.flush()
    assert store.batches == [100, DRAIN_AT_LEAST]
    assert len(results.pending) == 3


async def test_everything_pending_when_a_flush_starts_is_written() -> None:
    # However few are left after the largest batches (a node's last flush at stop writes them all).
    store = RecordingStore()
    results, arrive = writer(store)
    arrive(MAX_BATCH + 1)
    assert await results.flush()
    assert store.batches == [MAX_BATCH, 1] and not results.pending


async def test_results_the_database_refused_are_kept_for_the_next_flush() -> None:
    store = RecordingStore()
    results, arrive = writer(store)
    arrive(10)
    store.down = True
    assert not await results.flush()
    assert len(results.pending) == 10
    store.down = False
    assert await results.flush()
    assert store.batches == [10] and not results.pending
