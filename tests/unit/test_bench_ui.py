"""bench/ui.py measures what it says: a small run answers figures of both kinds for both page sizes."""

from __future__ import annotations

from bench.ui import measure, table


async def test_a_small_run_answers_both_kinds_of_figures() -> None:
    figures = await measure(jobs=60, requests=3)
    assert set(figures["pages"]) == {"50", "500"}
    assert figures["pages"]["50"]["rows"] == 50 and figures["pages"]["500"]["rows"] == 60
    for page in figures["pages"].values():
        assert page["ui_server_ms"]["p50"] > 0 and page["api_server_ms"]["p50"] > 0 and page["ratio_p50"] > 0
    assert "target" in table(figures)
