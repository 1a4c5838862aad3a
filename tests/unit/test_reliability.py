"""Faults, bad input and load: nothing leaks and nothing is lost."""

from __future__ import annotations

import os
import resource
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cuprum import (
    CAT,
    HEAD,
    WC,
    ExecutionContext,
    ProgramNotFoundError,
    TimeoutExpired,
    sh,
    unsafe,
)
from cuprum._pump import active_rust_calls
from tests.helpers import LOOPS_WITH_UVLOOP, LeakChecker, processes_with_marker, rss_kib


@pytest.fixture(params=LOOPS_WITH_UVLOOP)
def anyio_backend(request: pytest.FixtureRequest) -> object:
    """Pipelines and cancellation also run on asyncio with uvloop."""
    return request.param


SOAK_RUNS = 2000 if os.environ.get("CUPRUM_SOAK") == "long" else 200


def py(code: str, *extra: str):
    return unsafe.dynamic([sys.executable, "-c", code, *extra])


# --- cancellation at random moments ---------------------------------------------


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(delay=st.floats(min_value=0.0, max_value=0.2), stages=st.integers(min_value=1, max_value=4))
async def test_cancellation_at_any_moment_leaves_nothing(
    anyio_backend: str, cuprum_stream_backend: str, delay: float, stages: int
) -> None:
    leaks = LeakChecker()
    cat = sh.make(CAT)
    if stages == 1:
        target = cat("/dev/zero")
        with anyio.move_on_after(delay):
            await target.run(capture=False)
    else:
        pipeline = cat("/dev/zero") | cat()
        for _ in range(stages - 2):
            pipeline = pipeline | cat()
        pipeline = pipeline | sh.make(WC)("-c")
        with anyio.move_on_after(delay):
            await pipeline.run()
    assert active_rust_calls() == 0
    leaks.assert_clean()


# --- children that misbehave ------------------------------------------------------


async def test_child_closing_stdout_early_but_running_on_is_ended_by_timeout(
    anyio_backend: str,
) -> None:
    leaks = LeakChecker()
    marker = "cuprum-test-closes-stdout"
    code = "import os, time\nos.write(1, b'bye\\n')\nos.close(1)\ntime.sleep(60)"
    with pytest.raises(TimeoutExpired) as info:
        await py(code, marker).run(timeout=0.5, context=ExecutionContext(cancel_grace=0.2))
    assert info.value.result.stdout == "bye\n"  # type: ignore[union-attr]
    assert processes_with_marker(marker) == []
    leaks.assert_clean()


async def test_child_exiting_without_reading_megabytes_of_stdin(
    anyio_backend: str, cuprum_stream_backend: str
) -> None:
    leaks = LeakChecker()
    result = await (sh.make(HEAD)("-c", "10") | sh.make(CAT)()).run(stdin=b"z" * (32 << 20))
    assert result.ok
    assert result.stdout_bytes == b"z" * 10
    leaks.assert_clean()


async def test_a_gigabyte_of_output_with_max_output_and_without_capture(
    anyio_backend: str, cuprum_stream_backend: str
) -> None:
    leaks = LeakChecker()
    before = rss_kib()
    gib = unsafe.dynamic(["head", "-c", str(1 << 30), "/dev/zero"])
    bounded = await gib.run(max_output=1 << 20)
    assert bounded.truncated
    assert len(bounded.stdout_bytes or b"") == 1 << 20
    discarded = await gib.run(capture=False)
    assert discarded.ok
    assert discarded.stdout is None
    assert rss_kib() - before < 64 * 1024
    leaks.assert_clean()


async def test_output_without_any_newline(anyio_backend: str) -> None:
    result = await unsafe.dynamic(["head", "-c", str(3 << 20), "/dev/zero"]).run()
    assert result.stdout_bytes == b"\0" * (3 << 20)
    lines = [line async for line in unsafe.dynamic(["printf", "no newline at all"]).lines()]
    assert lines == ["no newline at all"]


async def test_invalid_utf8_and_multibyte_characters_split_across_reads(
    anyio_backend: str,
) -> None:
    code = (
        "import os\n"
        "data = 'añ€😀'.encode() + b'\\xff\\xfe' + 'ok'.encode()\n"
        "for i in range(len(data)):\n"
        "    os.write(1, data[i:i+1])\n"
    )
    result = await py(code).run()
    assert result.stdout_bytes == "añ€😀".encode() + b"\xff\xfe" + b"ok"
    assert result.stdout == "añ€😀\ufffd\ufffdok"


# --- bad input ----------------------------------------------------------------------


def test_nul_in_argv_env_keys_and_values_and_equals_in_env_key() -> None:
    with pytest.raises(ValueError, match="NUL"):
        sh.make(CAT)("a\0b")
    with pytest.raises(ValueError, match="NUL"):
        ExecutionContext(env={"A\0": "x"})
    with pytest.raises(ValueError, match="NUL"):
        ExecutionContext(env={"A": "x\0y"})
    with pytest.raises(ValueError, match="'A=B'"):
        ExecutionContext(env={"A=B": "x"})


async def test_bad_programs_and_cwd_spawn_nothing(anyio_backend: str, tmp_path: Path) -> None:
    leaks = LeakChecker()
    script = tmp_path / "not-executable"
    script.write_text("#!/bin/sh\necho hi\n")
    with pytest.raises(PermissionError, match="not executable"):
        await unsafe.dynamic([str(script)]).run()
    with pytest.raises(PermissionError, match="directory"):
        await unsafe.dynamic([str(tmp_path)]).run()
    with pytest.raises(ProgramNotFoundError, match="no-such-program"):
        await unsafe.dynamic(["no-such-program-cuprum"]).run()
    with pytest.raises(FileNotFoundError, match="missing"):
        await sh.make(CAT)().run(context=ExecutionContext(cwd=tmp_path / "missing"))
    with pytest.raises(ValueError, match="non-empty"):
        unsafe.dynamic([])
    leaks.assert_clean()


async def test_stdin_stream_that_raises_midway_reaches_caller_and_child_is_reaped(
    anyio_backend: str, cuprum_stream_backend: str
) -> None:
    leaks = LeakChecker()
    marker = "cuprum-test-stdin-raises"

    async def feed() -> AsyncIterator[bytes]:
        yield b"first chunk\n"
        raise LookupError("the source broke")

    with pytest.raises(LookupError, match="the source broke"):
        await (
            py("import sys, time\nsys.stdin.read(); time.sleep(60)", marker) | sh.make(CAT)()
        ).run(stdin=feed())
    assert processes_with_marker(marker) == []
    leaks.assert_clean()


# --- resource limits -------------------------------------------------------------------


async def test_descriptor_exhaustion_is_a_clear_error_and_leaks_nothing(
    anyio_backend: str, cuprum_stream_backend: str
) -> None:
    leaks = LeakChecker()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    in_use = len(os.listdir("/proc/self/fd"))
    pipeline = sh.make(CAT)() | sh.make(CAT)() | sh.make(CAT)() | sh.make(WC)("-c")
    try:
        # Room for a few pipes, not for all a 4-stage pipeline needs.
        resource.setrlimit(resource.RLIMIT_NOFILE, (in_use + 6, hard))
        with pytest.raises(OSError, match="Too many open files") as info:
            await pipeline.run(stdin=b"x")
        assert info.value.errno == 24
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    leaks.assert_clean()
    assert (await pipeline.run(stdin=b"ok")).stdout == "2\n"


# --- signals ------------------------------------------------------------------------------


async def test_last_stage_exiting_early_ends_promptly(
    anyio_backend: str, cuprum_stream_backend: str
) -> None:
    leaks = LeakChecker()
    with anyio.fail_after(10):
        result = await (sh.make(CAT)("/dev/zero") | sh.make(CAT)() | sh.make(HEAD)("-c", "1")).run()
    assert result.ok
    assert result.stdout_bytes == b"\0"
    leaks.assert_clean()


# --- soak -------------------------------------------------------------------------------------


async def test_soak_mixed_runs_leave_nothing_behind(
    anyio_backend: str, cuprum_stream_backend: str
) -> None:
    threads_before = threading.active_count()
    leaks = LeakChecker()
    rss_before = rss_kib()
    cat, head, wc = sh.make(CAT), sh.make(HEAD), sh.make(WC)
    limiter = anyio.CapacityLimiter(16)

    async def one(index: int) -> None:
        async with limiter:
            match index % 5:
                case 0:
                    assert (await cat().run(stdin=b"abc")).stdout == "abc"
                case 1:
                    result = await (cat() | wc("-c")).run(stdin=b"x" * 1000)
                    assert result.stdout == "1000\n"
                case 2:
                    with pytest.raises(TimeoutExpired):
                        await unsafe.dynamic(["sleep", "5"]).run(timeout=0.01)
                case 3:
                    with anyio.move_on_after(0.01):
                        await (cat("/dev/zero") | cat() | wc("-c")).run()
                case _:
                    result = await (cat("/dev/zero") | head("-c", "100")).run()
                    assert result.ok

    async with anyio.create_task_group() as tg:
        for index in range(SOAK_RUNS):
            tg.start_soon(one, index)
    leaks.assert_clean()
    assert active_rust_calls() == 0
    # anyio keeps idle worker threads for a while: their number follows the
    # concurrency (16 runs x at most 4 Rust calls), never the number of runs.
    assert threading.active_count() - threads_before <= 16 * 4
    assert rss_kib() - rss_before < 20 * 1024
