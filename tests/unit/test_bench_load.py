"""The benchmark harness's own parts: the load generator against the raw sink."""

from __future__ import annotations

import pytest

from bench.load import LoadPlan, generate
from bench.sink import Sink


@pytest.mark.parametrize("pipeline", [1, 4])
async def test_every_request_the_load_generator_counts_reached_the_sink(pipeline: int) -> None:
    sink = Sink()
    await sink.start()
    try:
        plan = LoadPlan(port=sink.port, token="", mode="sink", connections=3, seconds=0.3, pipeline=pipeline)
        result = await generate(plan, lambda _at: None)
    finally:
        await sink.stop()
    assert result.requests > 0 and result.connection_errors == 0
    assert result.statuses == {200: result.requests}
    assert len(sink.records) == result.requests
    assert all(due is not None for _arrived, due in sink.records)  # the due-time header was read
