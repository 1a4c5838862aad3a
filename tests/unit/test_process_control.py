"""`Process` signals, `open(stdin=False)`, and nothing outliving its run."""

from __future__ import annotations

import os
import random
import signal

import anyio
import pytest

from cuprum import CAT, SH, ExecutionContext, sh
from tests.helpers import LeakChecker, processes, processes_with_marker

shell = sh.make(SH)
# Traps SIGINT and says so; SIGTERM ends it.
TRAPPER = "trap 'echo got INT; exit 3' INT; echo ready; while :; do sleep 0.05; done"


async def test_send_signal_reaches_the_child(anyio_backend: str, leak_check: LeakChecker) -> None:
    async with shell("-c", TRAPPER).open(stdin=False) as proc:
        assert proc.stdout is not None
        assert await proc.stdout.receive() == b"ready\n"
        proc.send_signal(signal.SIGINT)
        assert await proc.wait() == 3
        assert b"got INT" in await proc.stdout.receive()


@pytest.mark.parametrize(("method", "code"), [("terminate", -signal.SIGTERM), ("kill", -9)])
async def test_terminate_and_kill_end_the_group(
    anyio_backend: str, method: str, code: int, leak_check: LeakChecker
) -> None:
    marker = f"cuprum-test-signal-{method}-{anyio_backend}"
    script = f"sleep 60 & echo ready; wait # {marker}"
    async with shell("-c", script).open(stdin=False) as proc:
        assert proc.stdout is not None
        assert await proc.stdout.receive() == b"ready\n"
        getattr(proc, method)()
        assert await proc.wait() == code
    assert processes_with_marker(marker) == []


async def test_a_pipelines_open_signals_every_stage(
    anyio_backend: str, leak_check: LeakChecker
) -> None:
    pipeline = shell("-c", "echo up; exec sleep 60") | sh.make(CAT)()
    async with pipeline.open(stdin=False) as proc:
        assert proc.stdout is not None
        assert await proc.stdout.receive() == b"up\n"
        proc.terminate()
        await proc.wait()
    assert proc.result is not None


async def test_signals_outside_the_block_are_an_error(anyio_backend: str) -> None:
    proc = sh.make(CAT)().open()
    with pytest.raises(RuntimeError, match="async with"):
        proc.terminate()


async def test_open_with_stdin_false_gives_dev_null(anyio_backend: str) -> None:
    async with sh.make(CAT)().open(stdin=False) as proc:
        assert proc.stdin is None
        assert await proc.wait() == 0  # cat read end of file at once


def _sleepers(seconds: str) -> list[int]:
    """Live `sleep <seconds>` processes (a unique duration marks a test's own)."""
    wanted = b"sleep\x00" + seconds.encode() + b"\x00"
    return [i.pid for i in processes(cmdlines=True).values() if i.live and i.cmdline == wanted]


async def test_a_background_job_holding_no_pipe_does_not_outlive_its_run(
    anyio_backend: str, leak_check: LeakChecker
) -> None:
    seconds = f"105.{os.getpid()}{random.randrange(10**6)}"
    job = f"sleep {seconds} >/dev/null 2>&1 & echo done"
    result = await shell("-c", job).run()
    assert result.stdout == "done\n"
    assert _sleepers(seconds) == []
    assert [line async for line in shell("-c", job).lines()] == ["done"]
    assert _sleepers(seconds) == []
    async with shell("-c", job).open(stdin=False) as proc:
        await proc.wait()
    assert _sleepers(seconds) == []


async def test_keep_background_leaves_the_job_to_the_caller(anyio_backend: str) -> None:
    seconds = f"107.{os.getpid()}{random.randrange(10**6)}"
    cmd = shell("-c", f"sleep {seconds} >/dev/null 2>&1 & echo $!")
    result = await cmd.with_context(ExecutionContext(keep_background=True)).run()
    assert result.stdout is not None
    pid = int(result.stdout)
    try:
        assert _sleepers(seconds) == [pid]  # still running: the caller's now
    finally:
        os.kill(pid, signal.SIGKILL)


async def test_open_lets_a_background_writer_finish_before_the_block_ends(
    anyio_backend: str, leak_check: LeakChecker
) -> None:
    # The caller reads what a background job writes after the command
    # exited; leftovers are ended when the block is left, not before.
    seconds = f"106.{os.getpid()}{random.randrange(10**6)}"
    script = f"(sleep 0.3; echo b) & sleep {seconds} >/dev/null 2>&1 & echo a"
    out = b""
    async with shell("-c", script).open(stdin=False) as proc:
        assert proc.stdout is not None
        while True:
            try:
                out += await proc.stdout.receive()
            except anyio.EndOfStream:
                break
    assert out == b"a\nb\n"
    assert _sleepers(seconds) == []
