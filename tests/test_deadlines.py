"""``within()``: time limits on one timer per loop, with ``asyncio.timeout()``'s meaning."""

from __future__ import annotations

import asyncio
import gc
import weakref

import pytest

from airflow_provider_sigmamind.deadlines import within


def timers() -> int:
    """Timer handles of the running loop, cancelled ones waiting in its heap among them."""
    loop = asyncio.get_running_loop()
    return sum(type(o) is asyncio.TimerHandle and o._loop is loop for o in gc.get_objects())


async def never() -> None:
    await asyncio.get_running_loop().create_future()


def test_a_block_that_runs_out_raises_timeout_error_at_its_limit():
    async def main() -> float:
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(TimeoutError), within(0.05):
            await never()
        return loop.time() - started

    assert 0.05 <= asyncio.run(main()) < 1.0


def test_after_running_out_the_task_is_no_longer_cancelled_and_goes_on():
    async def main() -> int:
        with pytest.raises(TimeoutError), within(0.01):
            await never()
        await asyncio.sleep(0)  # a cancellation left pending would raise here
        return asyncio.current_task().cancelling()

    assert asyncio.run(main()) == 0


def test_a_block_that_ends_in_time_returns_its_value_and_leaves_no_timer_behind():
    """Among the sleeps of 2,000 waits, due before the limits as in a triggerer: a cancelled timer
    behind them stays in the loop's heap until cancelled ones are half of it (``asyncio.timeout()``
    would leave 1,000 here, for 30 s)."""

    async def main() -> tuple[list[int], int, int]:
        sleeps = [asyncio.create_task(asyncio.sleep(10)) for _ in range(2000)]
        await asyncio.sleep(0)
        before = timers()
        results = []
        for i in range(1000):
            with within(30):
                await asyncio.sleep(0)
                results.append(i)
        after = timers()
        for sleep in sleeps:
            sleep.cancel()
        await asyncio.gather(*sleeps, return_exceptions=True)
        return results, before, after

    results, before, after = asyncio.run(main())
    assert results == list(range(1000))
    assert after - before <= 1


@pytest.mark.parametrize("limit", [30, 0.01], ids=["long before the limit", "at the limit"])
def test_a_cancellation_from_outside_passes_through_unchanged(limit):
    async def main() -> None:
        async def blocked() -> None:
            with within(limit):
                await never()

        task = asyncio.create_task(blocked())
        await asyncio.sleep(0)
        loop = asyncio.get_running_loop()
        loop.call_at(loop.time() + 0.01, task.cancel)  # the same moment as the limit, or just after it
        await task

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(main())


def test_an_inner_block_that_runs_out_leaves_the_outer_one_running():
    async def main() -> str:
        with within(5):
            with pytest.raises(TimeoutError), within(0.02):
                await never()
            await asyncio.sleep(0)
            return "outer finished"

    assert asyncio.run(main()) == "outer finished"


def test_an_outer_block_that_runs_out_reaches_the_inner_one_as_a_cancellation():
    seen = []

    async def inner() -> None:
        try:
            with within(5):
                await never()
        except asyncio.CancelledError:
            seen.append("inner: cancelled")
            raise

    async def main() -> None:
        with within(0.02):
            await inner()

    with pytest.raises(TimeoutError):
        asyncio.run(main())
    assert seen == ["inner: cancelled"]


def test_a_shorter_limit_opened_after_a_longer_one_is_kept():
    async def main() -> float:
        loop = asyncio.get_running_loop()

        async def long() -> None:
            with within(30):
                await never()

        holder = asyncio.create_task(long())
        await asyncio.sleep(0)
        started = loop.time()
        with pytest.raises(TimeoutError), within(0.02):
            await never()
        elapsed = loop.time() - started
        holder.cancel()
        await asyncio.gather(holder, return_exceptions=True)
        return elapsed

    assert asyncio.run(main()) < 1.0


def test_each_event_loop_keeps_its_own_limits():
    async def main() -> str:
        with pytest.raises(TimeoutError), within(0.01):
            await never()
        with within(5):
            await asyncio.sleep(0)
        return "done"

    assert [asyncio.run(main()) for _ in range(3)] == ["done"] * 3


def test_a_finished_event_loop_is_not_kept_alive():
    loops = []

    async def main() -> None:
        loops.append(weakref.ref(asyncio.get_running_loop()))
        with within(5):
            await asyncio.sleep(0)

    asyncio.run(main())
    gc.collect()
    assert loops[0]() is None


def test_outside_a_task_it_says_so():
    with pytest.raises(RuntimeError, match="inside a task"), within(1):
        pass
