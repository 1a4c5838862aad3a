"""Edge cases found in review: slow readers, stubborn descendants, open() errors."""

from __future__ import annotations

import math
import sys

import anyio
import pytest

from cuprum import (
    CommandFailed,
    EventPhase,
    ExecEvent,
    ExecutionContext,
    TimeoutExpired,
    sh,
    unsafe,
)
from tests.helpers import LeakChecker, processes_with_marker

SLOW_READER = (
    "import sys, time\n"
    "total = 0\n"
    "while chunk := sys.stdin.buffer.read(65536):\n"
    "    total += len(chunk)\n"
    "    time.sleep(0.02)\n"
    "print(total)\n"
)


async def test_slow_downstream_reader_gets_every_byte(
    anyio_backend: str, cuprum_stream_backend: str
) -> None:
    # The upstream exits at once; the pipes still hold megabytes on their way
    # to a slow reader. A short cancel_grace must not cut them off.
    producer = unsafe.dynamic(["head", "-c", "3000000", "/dev/zero"])
    reader = unsafe.dynamic([sys.executable, "-c", SLOW_READER])
    result = await (producer | reader).run(context=ExecutionContext(cancel_grace=0.05))
    assert result.ok
    assert result.stdout == "3000000\n"


async def test_slow_async_listener_misses_no_line(anyio_backend: str) -> None:
    seen: list[str] = []

    async def listener(event: ExecEvent) -> None:
        if event.phase is EventPhase.STDOUT and event.line is not None:
            seen.append(event.line)
            await anyio.sleep(0)

    cmd = unsafe.dynamic([sys.executable, "-c", "for i in range(3000): print(i)"])
    with sh.observe(listener):
        result = await cmd.run(context=ExecutionContext(cancel_grace=0.01))
    assert seen == [str(i) for i in range(3000)]
    assert result.stdout is not None
    assert len(result.stdout.splitlines()) == 3000


async def test_timeout_kills_group_members_that_ignore_sigterm(anyio_backend: str) -> None:
    marker = "cuprum-test-stubborn-grandchild"
    script = f"(trap '' TERM; exec sleep 300 {marker}) >/dev/null 2>&1 </dev/null & sleep 30"
    cmd = unsafe.dynamic(["sh", "-c", script])
    with pytest.raises(TimeoutExpired):
        await cmd.run(timeout=0.3, context=ExecutionContext(cancel_grace=0.3))
    assert processes_with_marker(marker) == []


async def test_open_timeout_raises_timeout_expired(anyio_backend: str) -> None:
    leaks = LeakChecker()
    with pytest.raises(TimeoutExpired) as info:
        async with unsafe.dynamic(["sleep", "30"]).open(timeout=0.2) as proc:
            await proc.wait()
    assert info.value.timeout == pytest.approx(0.2)
    leaks.assert_clean()


async def test_open_reports_an_internal_error_not_a_stray_cancellation(anyio_backend: str) -> None:
    def listener(event: ExecEvent) -> None:
        if event.phase is EventPhase.EXIT:
            raise LookupError("listener broke")

    with sh.observe(listener), pytest.raises(LookupError, match="listener broke"):
        async with unsafe.dynamic(["true"]).open():
            await anyio.sleep(5)


async def test_open_ends_a_background_job_left_by_the_child(anyio_backend: str) -> None:
    marker = "cuprum-test-open-background"
    cmd = unsafe.dynamic(["sh", "-c", f"sleep 300 {marker} & echo started"])
    async with cmd.open() as proc:
        assert await proc.wait() == 0
    assert processes_with_marker(marker) == []


async def test_lines_applies_the_failure_policy(anyio_backend: str) -> None:
    pipeline = unsafe.dynamic(["sleep", "300"]) | unsafe.dynamic(["false"])
    with anyio.fail_after(10), pytest.raises(CommandFailed) as info:
        async for _ in pipeline.lines():
            pass
    assert info.value.result.failure_index == 1  # type: ignore[union-attr]


async def test_lines_timeout_covers_spooling_stdin(anyio_backend: str) -> None:
    async def slow() -> object:
        for _ in range(100):
            yield b"x\n"
            await anyio.sleep(0.05)

    with anyio.fail_after(10), pytest.raises(TimeoutExpired):
        async for _ in unsafe.dynamic(["cat"]).lines(stdin=slow(), timeout=0.2):
            pass


async def test_zero_timeout_is_reported_as_zero(anyio_backend: str) -> None:
    with pytest.raises(TimeoutExpired) as info:
        await unsafe.dynamic(["sleep", "5"]).run(timeout=0)
    assert info.value.timeout == 0
    assert not math.isinf(info.value.timeout)


async def test_a_stage_that_spawned_still_gets_start_when_a_later_one_fails(
    anyio_backend: str, tmp_path
) -> None:
    bad = tmp_path / "not-a-program"
    bad.write_bytes(b"\x7fELF garbage")
    bad.chmod(0o755)
    events: list[ExecEvent] = []
    with sh.observe(events.append), pytest.raises(OSError):
        await (unsafe.dynamic(["sleep", "5"]) | unsafe.dynamic([str(bad)])).run()
    first = [e.phase for e in events if e.stage_index == 0]
    assert first[:2] == [EventPhase.PLAN, EventPhase.START]
    assert first[-1] in (EventPhase.EXIT, EventPhase.CANCEL)
