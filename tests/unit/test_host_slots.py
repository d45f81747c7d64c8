"""HostSlots: per-target and total caps on requests in flight, with waiting done before a request exists."""

from __future__ import annotations

import asyncio

from veggiecron.jobtypes.http.host_slots import HostSlots


async def test_at_most_limit_hold_a_target_and_others_wait_in_order() -> None:
    slots = HostSlots(2, 100)
    order: list[int] = []
    release = asyncio.Event()

    async def request(i: int, key: str) -> None:
        await slots.acquire(key)
        try:
            order.append(i)
            await release.wait()
        finally:
            slots.release(key)

    tasks = [asyncio.create_task(request(i, "http://a:80")) for i in range(4)]
    other = asyncio.create_task(request(9, "http://b:80"))
    for _ in range(5):
        await asyncio.sleep(0)
    assert order == [0, 1, 9]  # a third request to "a" waits; "b" has slots of its own
    assert slots.in_use() == 5
    release.set()
    await asyncio.gather(*tasks, other)
    assert order == [0, 1, 9, 2, 3]
    assert slots.in_use() == 0 and not slots._semaphores  # idle targets are forgotten


async def test_a_request_cancelled_while_waiting_gives_up_its_place() -> None:
    slots = HostSlots(1, 100)
    await slots.acquire("k")
    waiting = asyncio.create_task(slots.acquire("k"))
    await asyncio.sleep(0)
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    assert slots.in_use() == 1
    slots.release("k")
    assert slots.in_use() == 0 and not slots._semaphores


async def test_the_total_cap_holds_across_targets_and_a_cancelled_wait_frees_its_target() -> None:
    slots = HostSlots(5, 2)
    await slots.acquire("a")
    await slots.acquire("b")
    third = asyncio.create_task(slots.acquire("c"))  # "c" has a slot of its own, but none is left in all
    cancelled = asyncio.create_task(slots.acquire("d"))
    await asyncio.sleep(0)
    assert not third.done() and not cancelled.done()
    cancelled.cancel()
    await asyncio.gather(cancelled, return_exceptions=True)
    assert "d" not in slots._semaphores  # its target slot was given back
    slots.release("a")
    await asyncio.wait_for(third, 1)
    assert slots.in_use() == 2
    slots.release("b")
    slots.release("c")
    assert slots.in_use() == 0 and not slots._semaphores
