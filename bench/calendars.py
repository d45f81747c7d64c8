"""What skip calendars cost the scheduler's one question, the next slot: next_after of a schedule
wrapped in SkipDays (with a holidays calendar and a calendar of listed dates) as a ratio to the
same schedule unwrapped, measured in the same run.

    python -m bench.calendars [--slots 20000] [--json]

Each row walks `slots` consecutive slots from 2026-01-01 in America/New_York.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from veggiecron.calendars import CalendarSpec, parse_spec
from veggiecron.policies import Timing
from veggiecron.schedules import parse_schedule
from veggiecron.skip_days import SkipDays

ZONE = "America/New_York"
SCHEDULES = ("every 1 minutes", "every business day @ 09:00", "*/5 * * * *")


def walk(timing: Timing, start: float, slots: int) -> float:
    """Seconds to walk `slots` slots from `start`."""
    began = time.perf_counter()
    at = start
    for _ in range(slots):
        nxt = timing.next_after(at, start)
        if nxt is None:
            break
        at = nxt
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slots", type=int, default=20_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    start = datetime(2026, 1, 1, tzinfo=ZoneInfo(ZONE)).timestamp()
    shutdown = [(date(2026, 12, 24) + timedelta(days=n)).isoformat() for n in range(8)]
    calendars = (
        parse_spec({"holidays": {"country": "US", "subdivision": "CA"}}).days(),
        CalendarSpec(ranges=tuple((date.fromisoformat(d), date.fromisoformat(d)) for d in shutdown)).days(),
    )
    rows = []
    for text in SCHEDULES:
        plain = parse_schedule(text, ZONE)
        wrapped = SkipDays(plain, ZONE, calendars)
        walk(wrapped, start, 100)  # the holidays' years computed once, as a running server has them
        base = min(walk(plain, start, args.slots) for _ in range(3))
        skip = min(walk(wrapped, start, args.slots) for _ in range(3))
        rows.append(
            {
                "schedule": text,
                "plain_us": base / args.slots * 1e6,
                "skip_us": skip / args.slots * 1e6,
                "ratio": skip / base,
            }
        )
    if args.json:
        print(json.dumps(rows))
        return
    print(f"{'schedule':<30} {'plain µs/slot':>14} {'skip µs/slot':>13} {'ratio':>6}")
    for row in rows:
        print(f"{row['schedule']:<30} {row['plain_us']:>14.2f} {row['skip_us']:>13.2f} {row['ratio']:>6.2f}")


if __name__ == "__main__":
    main()
