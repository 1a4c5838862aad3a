"""`run_concurrent`: order, limit, fail_fast."""

from __future__ import annotations

import sys

import anyio
import pytest

from cuprum import CommandFailed, EventPhase, ExecEvent, run_concurrent, sh, unsafe
from tests.helpers import LeakChecker, processes_with_marker


async def test_results_in_input_order_and_limit_respected(anyio_backend: str) -> None:
    leaks = LeakChecker()
    running = 0
    peak = 0

    def listener(event: ExecEvent) -> None:
        nonlocal running, peak
        if event.phase is EventPhase.START:
            running += 1
            peak = max(peak, running)
        elif event.phase in (EventPhase.EXIT, EventPhase.TIMEOUT, EventPhase.CANCEL):
            running -= 1

    # Later commands finish first, so order comes from the inputs, not from time.
    cmds = [unsafe.dynamic([sys.executable, "-c", f"print({i})"]) for i in range(50)]
    with sh.observe(listener):
        results = await run_concurrent(cmds, limit=4)
    assert [r.stdout for r in results] == [f"{i}\n" for i in range(50)]
    assert 1 < peak <= 4
    leaks.assert_clean()


async def test_failures_are_returned_without_fail_fast(anyio_backend: str) -> None:
    cmds = [unsafe.dynamic(["true"]), unsafe.dynamic(["false"]), unsafe.dynamic(["true"])]
    results = await run_concurrent(cmds, limit=2)
    assert [r.ok for r in results] == [True, False, True]


async def test_fail_fast_cancels_the_rest_and_raises(anyio_backend: str) -> None:
    leaks = LeakChecker()
    marker = "cuprum-test-fail-fast"
    slow = unsafe.dynamic([sys.executable, "-c", "import time; time.sleep(60)", marker])
    cmds = [slow, slow, unsafe.dynamic(["sh", "-c", "exit 7"]), slow]
    with anyio.fail_after(10), pytest.raises(CommandFailed) as info:
        await run_concurrent(cmds, limit=4, fail_fast=True)
    assert info.value.result.exit_code == 7  # type: ignore[union-attr]
    assert processes_with_marker(marker) == []
    leaks.assert_clean()


async def test_same_command_object_runs_many_times_at_once(anyio_backend: str) -> None:
    cmd = unsafe.dynamic(["echo", "same"])
    results = await run_concurrent([cmd] * 10, limit=10)
    assert all(r.stdout == "same\n" for r in results)


async def test_invalid_limit(anyio_backend: str) -> None:
    with pytest.raises(ValueError, match="limit"):
        await run_concurrent([], limit=0)
