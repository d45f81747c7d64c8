"""A slow step of the server's stop says in the log what the stop waits for."""

from __future__ import annotations

import asyncio
import logging

import pytest

from veggiecron import stop_steps


def stop_reports(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("still stopping")]


async def test_a_step_still_running_is_reported_until_it_ends(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(stop_steps, "STOP_REPORT_SECONDS", 0.05)
    finish = asyncio.Event()

    async def slow() -> str:
        await finish.wait()
        return "done"

    asyncio.get_running_loop().call_later(0.18, finish.set)
    with caplog.at_level(logging.WARNING, logger="veggiecron.app"):
        assert await stop_steps.reported("the scheduler", slow()) == "done"
    reports = stop_reports(caplog)
    assert 2 <= len(reports) <= 4, reports
    assert all(line.endswith("waiting for the scheduler") for line in reports), reports


async def test_a_quick_step_says_nothing_and_a_failing_one_raises(caplog: pytest.LogCaptureFixture) -> None:
    async def quick() -> int:
        return 7

    async def failing() -> None:
        raise RuntimeError("the disk is gone")

    with caplog.at_level(logging.WARNING, logger="veggiecron.app"):
        assert await stop_steps.reported("the database", quick()) == 7
        with pytest.raises(RuntimeError, match="the disk is gone"):
            await stop_steps.reported("the database", failing())
    assert stop_reports(caplog) == []
