"""The suite's timing phase skips collecting one module: it must hold no timing test."""

from __future__ import annotations

from pathlib import Path

from tests.__main__ import UNTIMED_BUT_SLOW_TO_COLLECT

ROOT = Path(__file__).resolve().parents[2]


def test_the_module_the_timing_phase_skips_has_no_timing_test() -> None:
    text = (ROOT / UNTIMED_BUT_SLOW_TO_COLLECT).read_text()
    assert "timing" not in text, "move that test out, or let the timing phase collect this module"
