"""`run_concurrent`: order, limit, fail_fast."""

from __future__ import annotations

import sys
from pathlib import Path

import anyio
import pytest

from cuprum import (
    ECHO,
    SH,
    SLEEP,
    TR,
    CommandFailed,
    EventPhase,
    ExecEvent,
    ProgramNotFoundError,
    TimeoutExpired,
    run_concurrent,
    sh,
    unsafe,
)
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


async def test_a_timeout_is_a_partial_result_and_the_others_are_kept(anyio_backend: str) -> None:
    leaks = LeakChecker()
    slow = sh.make(SH)("-c", "echo started; exec sleep 60")
    cmds = [sh.make(ECHO)("a"), slow, sh.make(ECHO)("b")]
    results = await run_concurrent(cmds, limit=3, timeout=0.5)
    assert [r.stdout for r in results] == ["a\n", "started\n", "b\n"]
    assert [r.timed_out for r in results] == [False, True, False]
    assert [r.ok for r in results] == [True, False, True]
    leaks.assert_clean()


async def test_fail_fast_raises_a_timeout_as_timeout_expired(anyio_backend: str) -> None:
    slow = sh.make(SH)("-c", "echo started; exec sleep 60")
    with pytest.raises(TimeoutExpired) as caught:
        await run_concurrent([slow, sh.make(SLEEP)("60")], fail_fast=True, timeout=0.3)
    assert caught.value.result.timed_out
    assert not caught.value.result.ok


async def test_a_missing_program_is_raised_with_nothing_started(
    anyio_backend: str, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    first = sh.make(SH)("-c", 'touch "$0"', str(marker))
    missing = unsafe.dynamic(["cuprum-no-such-program-here"])
    with pytest.raises(ProgramNotFoundError):
        await run_concurrent([first, missing], limit=1)
    bad_cwd = sh.make(ECHO)("x").with_context(cwd=tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError):
        await run_concurrent([first, bad_cwd], limit=1)
    assert not marker.exists()


async def test_pipelines_run_concurrently_too(anyio_backend: str) -> None:
    pipeline = sh.make(ECHO)("abc") | sh.make(TR)("a-z", "A-Z")
    results = await run_concurrent([pipeline, sh.make(ECHO)("x")])
    assert [r.stdout for r in results] == ["ABC\n", "x\n"]
