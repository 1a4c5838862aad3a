"""`cmd.open()`, `pipeline.open()` and `lines()` on asyncio and trio."""

from __future__ import annotations

import contextlib
import gc
import os
import resource
import signal
import sys
from pathlib import Path

import anyio
import pytest

from cuprum import CAT, CommandFailed, ExecutionContext, Pipeline, TimeoutExpired, sh, unsafe
from tests.helpers import LeakChecker, processes_with_marker

UPPER = (
    "import sys\n"
    "for line in sys.stdin:\n"
    "    sys.stdout.write(line.upper())\n"
    "    sys.stdout.flush()\n"
)


def upper_cmd(*extra: str):
    return unsafe.dynamic([sys.executable, "-c", UPPER, *extra])


async def read_line(stream) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        data += await stream.receive()
    return data


async def test_conversation_with_a_child(anyio_backend: str) -> None:
    leaks = LeakChecker()
    async with upper_cmd().open() as proc:
        assert proc.pid is not None
        for word in ("hello", "cuprum", "trio"):
            await proc.stdin.send(f"{word}\n".encode())
            assert await read_line(proc.stdout) == f"{word.upper()}\n".encode()
        await proc.stdin.aclose()
        assert await proc.wait() == 0
    assert proc.result is not None
    assert proc.result.ok
    leaks.assert_clean()


async def test_cancelling_mid_conversation_leaves_nothing(anyio_backend: str) -> None:
    leaks = LeakChecker()
    marker = "cuprum-test-conversation-cancel"
    with anyio.move_on_after(0.5):
        async with upper_cmd(marker).open() as proc:
            await proc.stdin.send(b"ping\n")
            assert await read_line(proc.stdout) == b"PING\n"
            await anyio.sleep_forever()
    assert processes_with_marker(marker) == []
    leaks.assert_clean()


async def test_error_in_block_reaches_caller_unwrapped_and_child_is_reaped(
    anyio_backend: str,
) -> None:
    leaks = LeakChecker()
    marker = "cuprum-test-open-error"
    with pytest.raises(KeyError, match="boom"):
        async with upper_cmd(marker).open():
            raise KeyError("boom")
    assert processes_with_marker(marker) == []
    leaks.assert_clean()


async def test_leaving_block_with_unread_output_does_not_hang(anyio_backend: str) -> None:
    # The child writes far more than a pipe holds; closing our end gives it EPIPE.
    leaks = LeakChecker()
    code = "import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n"
    with anyio.fail_after(10):
        async with unsafe.dynamic([sys.executable, "-c", code]).open() as proc:
            await proc.stdout.receive()
    assert proc.result is not None
    assert proc.result.exit_code != 0  # killed by, or failed on, the broken pipe
    leaks.assert_clean()


async def test_wait_returns_although_a_grandchild_holds_the_pipes(anyio_backend: str) -> None:
    leaks = LeakChecker()
    cmd = unsafe.dynamic(["sh", "-c", "sleep 30 & echo started"])
    with anyio.fail_after(10):
        async with cmd.open() as proc:
            assert await proc.wait() == 0
            assert await read_line(proc.stdout) == b"started\n"
    leaks.assert_clean()


async def test_pipeline_open_streams_the_last_stage(
    anyio_backend: str, cuprum_stream_backend: str
) -> None:
    leaks = LeakChecker()
    pipeline: Pipeline = upper_cmd() | sh.make(CAT)()
    async with pipeline.open() as proc:
        await proc.stdin.send(b"through two stages\n")
        await proc.stdin.aclose()
        assert await read_line(proc.stdout) == b"THROUGH TWO STAGES\n"
        assert await proc.wait() == 0
    leaks.assert_clean()


async def test_proc_lines_splits_output(anyio_backend: str) -> None:
    cmd = unsafe.dynamic(["printf", "a\\r\\nb\\nc"])
    async with cmd.open(stdin=None) as proc:
        assert [line async for line in proc.lines()] == ["a", "b", "c"]


async def test_lines_streams_and_checks_status(anyio_backend: str) -> None:
    lines = [line async for line in unsafe.dynamic(["printf", "one\\ntwo\\r\\nthree"]).lines()]
    assert lines == ["one", "two", "three"]
    with pytest.raises(CommandFailed) as info:
        async for _ in unsafe.dynamic(["sh", "-c", "echo out; echo bad >&2; exit 4"]).lines():
            pass
    assert info.value.result.exit_code == 4  # type: ignore[union-attr]
    assert "bad" in (info.value.result.stderr or "")  # type: ignore[union-attr]


async def test_lines_split_cr_for_progress_output(anyio_backend: str) -> None:
    cmd = unsafe.dynamic(["printf", "10%%\\r50%%\\r100%%\\ndone\\r\\n"])
    assert [line async for line in cmd.lines(split_cr=True)] == ["10%", "50%", "100%", "done"]


async def test_lines_decodes_multibyte_characters_split_across_reads(anyio_backend: str) -> None:
    code = (
        "import os, time\n"
        "data = 'é€😀\\n'.encode()\n"
        "for i in range(len(data)):\n"
        "    os.write(1, data[i:i+1])\n"
    )
    lines = [line async for line in unsafe.dynamic([sys.executable, "-c", code]).lines()]
    assert lines == ["é€😀"]


async def test_lines_with_stdin_and_pipeline(anyio_backend: str) -> None:
    pipeline = sh.make(CAT)() | upper_cmd()
    assert [line async for line in pipeline.lines(stdin="x\ny\n")] == ["X", "Y"]


async def test_leaving_lines_early_with_aclosing_terminates_the_child(anyio_backend: str) -> None:
    leaks = LeakChecker()
    marker = "cuprum-test-lines-aclosing"
    code = "import sys\nwhile True:\n    print('line', flush=True)\n"
    async with contextlib.aclosing(
        unsafe.dynamic([sys.executable, "-c", code, marker]).lines()
    ) as lines:
        async for line in lines:
            assert line == "line"
            break
    assert processes_with_marker(marker) == []
    leaks.assert_clean()


@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
async def test_breaking_out_of_lines_terminates_the_child(anyio_backend: str) -> None:
    # A plain `break` leaves the generator to the loop's finaliser, which
    # closes it in another task: that must work too (no cancel scope is held
    # across a yield), and the child must end.
    marker = "cuprum-test-lines-break"
    code = "import sys\nwhile True:\n    print('line', flush=True)\n"
    async for line in unsafe.dynamic([sys.executable, "-c", code, marker]).lines():
        assert line == "line"
        break
    gc.collect()
    with anyio.fail_after(10):
        while processes_with_marker(marker):
            await anyio.sleep(0.01)


async def test_lines_read_slowly_after_the_exit_keep_every_line(anyio_backend: str) -> None:
    # The child exits long before the caller has read its output: what it
    # wrote is delivered however slow the caller, not cut after cancel_grace.
    count = 0
    cmd = unsafe.dynamic([sys.executable, "-c", "for i in range(20000): print('x' * 50)"])
    async for _ in cmd.lines(context=ExecutionContext(cancel_grace=0.1)):
        count += 1
        if count % 2000 == 0:
            await anyio.sleep(0.15)  # slower than cancel_grace between reads
    assert count == 20000


async def test_lines_end_although_an_escaped_writer_keeps_writing(anyio_backend: str) -> None:
    # A writer that left the process group cannot be ended with it: like
    # run(), lines() stops once the group is gone and the pipe is read.
    marker = f"cuprum-escaped-{os.getpid()}-{id(object())}"
    trickle = f"while :; do echo x; sleep 0.05; done # {marker}"
    cmd = unsafe.dynamic(["sh", "-c", f"setsid sh -c '{trickle}' & echo started"])
    try:
        with anyio.fail_after(20):
            got = [line async for line in cmd.lines(context=ExecutionContext(cancel_grace=0.2))]
        assert got[0] == "started"
    finally:
        for pid in processes_with_marker(marker):
            os.kill(pid, signal.SIGKILL)


async def test_lines_timeout_covers_the_whole_iteration(anyio_backend: str) -> None:
    leaks = LeakChecker()
    cmd = unsafe.dynamic(["sh", "-c", "echo first; sleep 30"])
    seen: list[str] = []

    async def consume() -> None:
        async for line in cmd.lines(timeout=0.5):
            seen.append(line)

    with pytest.raises(TimeoutExpired):
        await consume()
    assert seen == ["first"]
    leaks.assert_clean()


async def test_lines_of_an_endless_producer_can_be_cancelled_and_timed_out(
    anyio_backend: str,
) -> None:
    # `yes` always has output waiting: the loop must still let a cancel
    # scope, a timeout and the other tasks of the loop through.
    leaks = LeakChecker()
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await anyio.sleep(0)

    seen = 0
    async with anyio.create_task_group() as tg:
        tg.start_soon(ticker)
        with anyio.move_on_after(0.3) as scope:
            async for _ in unsafe.dynamic(["yes"]).lines():
                seen += 1
        tg.cancel_scope.cancel()
    assert scope.cancelled_caught
    assert seen > 1000
    assert ticks > 10
    with pytest.raises(TimeoutExpired):
        async for _ in unsafe.dynamic(["yes"]).lines(timeout=0.3):
            pass
    leaks.assert_clean()


async def test_lines_over_ten_million_lines_keeps_memory_flat(anyio_backend: str) -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    count = 0
    async for _ in unsafe.dynamic(["seq", "1", "10000000"]).lines():
        count += 1
    assert count == 10_000_000
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 32 * 1024, f"peak RSS grew by {grown_kib} KiB"


def test_open_needs_async_with(tmp_path: Path) -> None:
    proc = sh.make(CAT)().open()
    assert proc.pid is None
    assert proc.result is None
