"""Pipelines (SPEC section 6) on every event loop x stream backend (section 7).

Every test that runs a pipeline takes ``anyio_backend`` (asyncio, trio) and
``cuprum_stream_backend`` (python, rust), so it runs as the four combinations.
Timing bounds are generous "did not hang" limits, never what makes a test
pass.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import signal
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import anyio
import pytest

import cuprum._pump
from cuprum import (
    CAT,
    ECHO,
    HEAD,
    SH,
    SHA256SUM,
    TR,
    WC,
    YES,
    CommandFailed,
    SafeCmd,
    TimeoutExpired,
    sh,
    unsafe,
)
from cuprum._pipelines import Pipeline
from cuprum._results import CommandResult, PipelineResult
from cuprum.streams import StreamBackend, clear_backend_cache, get_stream_backend
from tests.helpers import (
    LOOPS_WITH_UVLOOP,
    RUST_AVAILABLE,
    LeakChecker,
    child_pids,
    open_fds,
    processes_with_marker,
    python_child,
    write_random_file,
)


@pytest.fixture(params=LOOPS_WITH_UVLOOP)
def anyio_backend(request: pytest.FixtureRequest) -> object:
    """Pipelines and cancellation also run on asyncio with uvloop."""
    return request.param


ENV_VAR = "CUPRUM_STREAM_BACKEND"
KiB = 1 << 10
MiB = 1 << 20
SIGPIPE = -signal.SIGPIPE
SIGTERM = -signal.SIGTERM


# --------------------------------------------------------------- helpers


def cat(*args: object) -> SafeCmd:
    return sh.make(CAT)(*args)


def head(*args: object) -> SafeCmd:
    return sh.make(HEAD)(*args)


def yes() -> SafeCmd:
    return sh.make(YES)()


def shell(script: str) -> SafeCmd:
    return sh.make(SH)("-c", script)


def py(code: str, *extra: str) -> SafeCmd:
    return unsafe.dynamic([*python_child(code), *extra])


def new_marker() -> str:
    return f"cuprum-test-marker-{uuid.uuid4().hex}"


def sleeper(marker: str) -> SafeCmd:
    """A stage that sleeps 30 s, findable in /proc by its marker argument."""
    return py("import time; time.sleep(30)", marker)


def assert_backend(expected: str) -> None:
    """The run will use the backend the fixture asked for."""
    assert get_stream_backend() is StreamBackend(expected)


def use_backend(monkeypatch: pytest.MonkeyPatch, backend: str) -> None:
    monkeypatch.setenv(ENV_VAR, backend)
    clear_backend_cache()
    assert_backend(backend)


def other_backend(backend: str) -> str:
    return "python" if backend == "rust" else "rust"


# Thread inspection for the Rust pump: a worker thread running a pump or a
# consume call sits in one of these syscalls; an idle anyio worker waits on a
# futex. Only this process's threads are looked at, never the caller's own.
_IO_SYSCALLS = {
    # read, write, poll, ppoll, splice, tee
    "x86_64": frozenset({0, 1, 7, 271, 275, 276}),
    # read, write, ppoll, splice, tee
    "aarch64": frozenset({63, 64, 73, 76, 77}),
}


def rust_call_counter() -> Callable[[], int] | None:
    """`cuprum._pump.active_rust_calls`, if this version of cuprum has it."""
    return getattr(cuprum._pump, "active_rust_calls", None)


def assert_no_rust_calls() -> None:
    counter = rust_call_counter()
    if counter is not None:
        assert counter() == 0, f"{counter()} Rust pump/consume calls still running"


def threads_in_io_syscalls() -> list[int] | None:
    """Native ids of the other threads blocked in read/write/poll/splice.

    None when this machine cannot tell (unknown architecture, or no
    /proc/<pid>/task/<tid>/syscall).
    """
    numbers = _IO_SYSCALLS.get(platform.machine())
    if numbers is None:
        return None
    me = threading.get_native_id()
    found: list[int] = []
    try:
        tids = [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:
        return None
    for tid in tids:
        if tid == me:
            continue
        try:
            text = Path(f"/proc/self/task/{tid}/syscall").read_text()
        except FileNotFoundError:
            continue  # the thread just ended
        except OSError:
            return None
        first = text.split(maxsplit=1)[0] if text.strip() else ""
        if first.lstrip("-").isdigit() and int(first) in numbers:
            found.append(tid)
    return found


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """100 MiB of random bytes on disk, with its sha256."""
    path = tmp_path_factory.mktemp("payload") / "random-100m.bin"
    yield path, write_random_file(path, 100)
    path.unlink()


@pytest.fixture(scope="module")
def payload_16m() -> bytes:
    return os.urandom(16 * MiB)


# ------------------------------------------------ building (pure, no run)


def test_safecmd_or_safecmd_is_a_pipeline() -> None:
    a, b = cat(), head("-n", "1")
    pipeline = a | b
    assert isinstance(pipeline, Pipeline)
    assert pipeline.stages == (a, b)


def test_pipeline_or_safecmd_and_pipeline_or_pipeline_are_flat() -> None:
    a, b, c, d = cat(), cat("-u"), head("-n", "1"), sh.make(WC)("-c")
    assert (a | b | c).stages == (a, b, c)
    assert ((a | b) | c).stages == (a, b, c)
    assert (a | (b | c)).stages == (a, b, c)
    joined = (a | b) | (c | d)
    assert joined.stages == (a, b, c, d)
    assert all(isinstance(stage, SafeCmd) for stage in joined.stages)


def test_pipeline_is_immutable() -> None:
    a, b, c = cat(), cat(), head()
    pipeline = a | b
    assert isinstance(pipeline.stages, tuple)
    with pytest.raises(dataclasses.FrozenInstanceError):
        pipeline.stages = (c,)  # type: ignore[misc]
    longer = pipeline | c
    assert pipeline.stages == (a, b)  # the original is unchanged
    assert longer.stages == (a, b, c)
    assert pipeline == (a | b)
    assert hash(pipeline) == hash(a | b)


def test_pipeline_rejects_what_is_not_a_command() -> None:
    with pytest.raises(TypeError):
        cat() | "grep x"  # type: ignore[operator]
    with pytest.raises(TypeError):
        (cat() | cat()) | 3  # type: ignore[operator]
    with pytest.raises(TypeError):
        Pipeline(stages=(cat(), "cat"))  # type: ignore[arg-type]


# ----------------------------------------------------------- data flow


async def test_100_mib_through_three_cats_to_sha256sum(
    anyio_backend: str, cuprum_stream_backend: str, big_file: tuple[Path, str]
) -> None:
    path, expected = big_file
    assert_backend(cuprum_stream_backend)
    pipeline = cat(path) | cat() | cat() | sh.make(SHA256SUM)()
    started = time.monotonic()
    with anyio.fail_after(60):
        result = await pipeline.run(check=True)
    elapsed = time.monotonic() - started
    assert result.ok
    assert result.stdout is not None
    assert result.stdout.split()[0] == expected
    assert [stage.exit_code for stage in result.stages] == [0, 0, 0, 0]
    assert elapsed < 30, f"100 MiB through three pumps took {elapsed:.1f} s"


async def test_small_writes_through_pumps_arrive_whole_and_in_order(
    anyio_backend: str, cuprum_stream_backend: str
) -> None:
    # `seq` writes 4 KiB at a time: the pumps gather such pieces before
    # moving them; nothing may be lost, reordered or held back at the end.
    assert_backend(cuprum_stream_backend)
    count = 300_000
    seq = unsafe.dynamic(["seq", str(count)])
    with anyio.fail_after(60):
        result = await (seq | cat() | cat()).run()
    assert result.ok
    expected = "".join(f"{i}\n" for i in range(1, count + 1))
    assert result.stdout == expected
    assert result.stages[0].exit_code == 0


async def test_a_trickle_through_pumps_is_delivered_before_the_writer_ends(
    anyio_backend: str, cuprum_stream_backend: str
) -> None:
    # A writer of a line every 2 ms (the pace at which the pumps gather):
    # every line comes out, in order, while it still runs.
    assert_backend(cuprum_stream_backend)
    code = (
        "import sys, time\n"
        "for i in range(30):\n"
        "    sys.stdout.write(f'{i}\\n'); sys.stdout.flush(); time.sleep(0.002)\n"
    )
    producer = unsafe.dynamic(python_child(code))
    seen: list[str] = []
    with anyio.fail_after(30):
        async with (producer | cat() | cat()).open(stdout=True) as proc:
            async for line in proc.lines():
                seen.append(line)
    assert seen == [str(i) for i in range(30)]


@pytest.mark.parametrize(
    "size",
    [0, 1, 64 * KiB - 1, 64 * KiB, 64 * KiB + 1, MiB],
    ids=["0B", "1B", "64KiB-1", "64KiB", "64KiB+1", "1MiB"],
)
async def test_payload_sizes_through_cat_cat_are_byte_identical(
    anyio_backend: str, cuprum_stream_backend: str, size: int
) -> None:
    assert_backend(cuprum_stream_backend)
    payload = os.urandom(size)
    with anyio.fail_after(30):
        result = await (cat() | cat()).run(stdin=payload)
    assert isinstance(result, PipelineResult)
    assert result.ok
    assert result.failure is None
    assert result.failure_index is None
    assert result.stdout_bytes == payload
    assert len(result.stages) == 2
    first, last = result.stages
    assert all(isinstance(stage, CommandResult) for stage in result.stages)
    assert [stage.argv for stage in result.stages] == [("cat",), ("cat",)]
    assert [stage.exit_code for stage in result.stages] == [0, 0]
    assert all(stage.ok for stage in result.stages)
    assert first.stdout_bytes is None  # only the last stage's stdout is captured
    assert last.stdout_bytes == payload
    assert [stage.stderr_bytes for stage in result.stages] == [b"", b""]
    assert first.pid is not None
    assert last.pid is not None
    assert first.pid != last.pid
    assert result.duration >= 0


async def test_stdin_str_feeds_the_first_stage(
    anyio_backend: str, cuprum_stream_backend: str
) -> None:
    assert_backend(cuprum_stream_backend)
    with anyio.fail_after(30):
        result = await (sh.make(TR)("a-z", "A-Z") | cat()).run(stdin="hello\n")
    assert result.stdout == "HELLO\n"


@pytest.mark.parametrize("size", [1, 64 * KiB + 1, MiB], ids=["1B", "64KiB+1", "1MiB"])
async def test_stdin_bytes_feed_the_first_stage(
    anyio_backend: str, cuprum_stream_backend: str, size: int
) -> None:
    assert_backend(cuprum_stream_backend)
    with anyio.fail_after(30):
        result = await (sh.make(WC)("-c") | cat() | cat()).run(stdin=os.urandom(size))
    assert result.ok
    assert result.stdout == f"{size}\n"


async def test_stdin_async_iterable_feeds_the_first_stage(
    anyio_backend: str, cuprum_stream_backend: str
) -> None:
    assert_backend(cuprum_stream_backend)

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(64):
            yield b"x" * 1000

    with anyio.fail_after(30):
        result = await (sh.make(WC)("-c") | cat()).run(stdin=chunks())
    assert result.stdout == "64000\n"


async def test_max_output_bounds_the_capture(
    anyio_backend: str, cuprum_stream_backend: str
) -> None:
    assert_backend(cuprum_stream_backend)
    payload = os.urandom(MiB)
    with anyio.fail_after(30):
        result = await (cat() | cat()).run(stdin=payload, max_output=1000)
    assert result.ok
    assert result.stdout_bytes == payload[:1000]
    assert result.stages[-1].truncated
    assert result.truncated


# ----------------------------------------------------- failure policy


async def test_yes_head_is_ok_and_sigpipe_is_excused(
    anyio_backend: str, cuprum_stream_backend: str
) -> None:
    assert_backend(cuprum_stream_backend)
    with anyio.fail_after(30):
        result = await (yes() | head("-n", "1")).run(check=True)
    assert result.ok
    assert result.stdout == "y\n"
    assert result.failure is None
    assert result.failure_index is None
    assert [stage.exit_code for stage in result.stages] == [SIGPIPE, 0]
    assert result.stages[0].ok


async def test_sigpipe_along_a_chain_is_excused(
    anyio_backend: str, cuprum_stream_backend: str
) -> None:
    assert_backend(cuprum_stream_backend)
    with anyio.fail_after(30):
        result = await (yes() | cat() | head("-n", "1")).run(check=True)
    assert result.ok
    assert result.stdout == "y\n"
    assert result.failure is None
    assert result.failure_index is None
    assert [stage.exit_code for stage in result.stages] == [SIGPIPE, SIGPIPE, 0]


@pytest.mark.parametrize("how", ["sh.make", "unsafe.dynamic"])
async def test_failing_middle_stage_is_reported_with_its_index(
    anyio_backend: str, cuprum_stream_backend: str, how: str
) -> None:
    assert_backend(cuprum_stream_backend)
    failing = shell("exit 3") if how == "sh.make" else unsafe.dynamic(["sh", "-c", "exit 3"])
    pipeline = sh.make(ECHO)("x") | failing | cat()
    with anyio.fail_after(30):
        result = await pipeline.run()
    assert not result.ok
    assert result.failure_index == 1
    assert result.failure is result.stages[1]
    assert result.stages[1].exit_code == 3
    assert not result.stages[1].ok
    # echo and cat did not fail on their own (they ended, or cuprum ended them)
    assert result.stages[0].exit_code in (0, SIGPIPE, SIGTERM)
    assert result.stages[2].exit_code in (0, SIGTERM)

    with anyio.fail_after(30), pytest.raises(CommandFailed) as info:
        await pipeline.run(check=True)
    failed = info.value.result
    assert isinstance(failed, PipelineResult)
    assert failed.failure_index == 1
    assert failed.failure is not None
    assert failed.failure.exit_code == 3
    assert not failed.ok


@pytest.mark.parametrize("failing_index", [0, 1, 2])
async def test_failing_stage_ends_sleeping_stages_promptly(
    anyio_backend: str, cuprum_stream_backend: str, failing_index: int
) -> None:
    assert_backend(cuprum_stream_backend)
    checker = LeakChecker()
    marker = new_marker()
    stages = [sleeper(marker), sleeper(marker), sleeper(marker)]
    stages[failing_index] = shell("exit 3")
    pipeline = stages[0] | stages[1] | stages[2]
    started = time.monotonic()
    with anyio.fail_after(10):
        result = await pipeline.run()
    elapsed = time.monotonic() - started
    assert elapsed < 5, f"the pipeline took {elapsed:.1f} s to end after a failure"
    assert not result.ok
    assert result.failure_index == failing_index
    assert result.failure is not None
    assert result.failure.exit_code == 3
    for index, stage in enumerate(result.stages):
        if index != failing_index:
            # ended by cuprum: not reported as a failure
            assert stage.exit_code == SIGTERM, stage
    assert processes_with_marker(marker) == []
    checker.assert_clean()


async def test_large_stderr_of_one_stage_does_not_deadlock(
    anyio_backend: str, cuprum_stream_backend: str
) -> None:
    assert_backend(cuprum_stream_backend)
    noise = bytes(range(256)) * (8 * MiB // 256)
    noisy = py(
        "import sys\n"
        "sys.stderr.buffer.write(bytes(range(256)) * (8 * 1024 * 1024 // 256))\n"
        "sys.stderr.flush()\n"
        "sys.stdout.buffer.write(sys.stdin.buffer.read())\n"
    )
    pipeline = sh.make(ECHO)("hello") | noisy | cat()
    with anyio.fail_after(30):
        result = await pipeline.run()
    assert result.ok, result
    assert result.stdout == "hello\n"
    assert result.stages[1].stderr_bytes == noise
    assert result.stages[0].stderr_bytes == b""
    assert result.stages[2].stderr_bytes == b""


# -------------------------------------------- timeout and cancellation


async def test_timeout_gives_partial_result_and_leaves_nothing(
    anyio_backend: str, cuprum_stream_backend: str
) -> None:
    assert_backend(cuprum_stream_backend)
    checker = LeakChecker()
    marker = new_marker()
    talker = py(
        "import sys, time\nsys.stdout.write('partial\\n')\nsys.stdout.flush()\ntime.sleep(30)\n",
        marker,
    )
    pipeline = talker | cat()
    started = time.monotonic()
    with anyio.fail_after(30), pytest.raises(TimeoutExpired) as info:
        await pipeline.run(timeout=1.5)
    elapsed = time.monotonic() - started
    assert elapsed < 1.5 + 5, f"timeout took {elapsed:.1f} s to take effect"
    assert info.value.timeout == 1.5
    result = info.value.result
    assert isinstance(result, PipelineResult)
    assert not result.ok
    assert len(result.stages) == 2
    assert result.stdout == "partial\n"
    assert result.stages[0].exit_code == SIGTERM  # ended by cuprum
    assert result.failure is None  # ...which is not a failure of its own
    assert processes_with_marker(marker) == []
    checker.assert_clean()
    assert_no_rust_calls()


@pytest.mark.timeout(60)  # a pump that ignores cancellation hangs the shielded cleanup
async def test_cancellation_returns_promptly_and_leaves_nothing(
    anyio_backend: str, cuprum_stream_backend: str
) -> None:
    assert_backend(cuprum_stream_backend)
    checker = LeakChecker()
    pipeline = cat("/dev/zero") | cat() | sh.make(WC)("-c")
    counter = rust_call_counter()
    detector_works = threads_in_io_syscalls() is not None
    seen_busy = seen_calls = 0
    stop = anyio.Event()

    async def sample() -> None:
        # Watch the Rust worker calls and threads while the pipeline runs.
        nonlocal seen_busy, seen_calls
        while not stop.is_set():
            seen_busy = max(seen_busy, len(threads_in_io_syscalls() or ()))
            if counter is not None:
                seen_calls = max(seen_calls, counter())
            await anyio.sleep(0.01)

    started = time.monotonic()
    async with anyio.create_task_group() as tg:
        tg.start_soon(sample)
        with anyio.move_on_after(0.5) as scope:
            await pipeline.run()
        # Look at once: a worker thread left behind must not escape notice
        # by ending on its own a moment later.
        calls_after = counter() if counter is not None else 0
        busy_after = threads_in_io_syscalls() if detector_works else []
        stop.set()
    elapsed = time.monotonic() - started
    assert scope.cancelled_caught, "cat /dev/zero cannot end on its own"
    assert elapsed < 3, f"cancellation took {elapsed:.1f} s"
    checker.assert_clean()
    if cuprum_stream_backend == "python":
        assert seen_calls == 0, "the Python backend called into Rust"
        return
    if counter is None and not detector_works:
        pytest.xfail("needs active pump counter in cuprum._pump")
    if counter is not None:
        # the counter sees the pumps while they run, and none after the run
        assert seen_calls >= 1, "no Rust call seen while the pipeline ran"
        assert calls_after == 0, f"{calls_after} Rust pump/consume calls still running"
    if detector_works:
        # the same, seen from the threads' syscalls
        assert seen_busy >= 1, "no worker thread seen in a pump while the pipeline ran"
        assert busy_after == [], f"threads still in a pump after the run: {busy_after}"


async def test_many_runs_leave_descriptors_and_children_unchanged(
    anyio_backend: str, cuprum_stream_backend: str
) -> None:
    assert_backend(cuprum_stream_backend)
    pipeline = sh.make(ECHO)("hello") | cat()
    await pipeline.run(check=True)  # warm up whatever the loop opens lazily
    checker = LeakChecker()
    with anyio.fail_after(100):
        for _ in range(200):
            result = await pipeline.run()
            assert result.stdout == "hello\n"
    checker.assert_clean()
    assert len(open_fds()) == len(checker.before.fds)
    assert child_pids() == checker.before.children
    assert_no_rust_calls()


async def test_last_stage_exiting_early_ends_promptly(
    anyio_backend: str, cuprum_stream_backend: str
) -> None:
    assert_backend(cuprum_stream_backend)
    checker = LeakChecker()
    started = time.monotonic()
    with anyio.fail_after(20):
        result = await (cat("/dev/zero") | head("-c", "1")).run()
    elapsed = time.monotonic() - started
    assert elapsed < 5, f"took {elapsed:.1f} s"
    assert result.ok
    assert result.stdout_bytes == b"\0"
    assert [stage.exit_code for stage in result.stages] == [SIGPIPE, 0]
    checker.assert_clean()


# ------------------------------------------- both backends, same bytes


async def test_16_mib_payload_is_byte_identical(
    anyio_backend: str, cuprum_stream_backend: str, payload_16m: bytes
) -> None:
    assert_backend(cuprum_stream_backend)
    with anyio.fail_after(60):
        result = await (cat() | cat() | cat()).run(stdin=payload_16m)
    assert result.ok
    assert result.stdout_bytes == payload_16m


async def test_early_exiting_downstream_gives_the_prefix(
    anyio_backend: str, cuprum_stream_backend: str, payload_16m: bytes
) -> None:
    assert_backend(cuprum_stream_backend)
    with anyio.fail_after(60):
        result = await (cat() | cat() | head("-c", "1000")).run(stdin=payload_16m)
    assert result.ok
    assert result.failure is None
    assert result.stdout_bytes == payload_16m[:1000]
    assert result.stages[-1].exit_code == 0
    assert all(stage.exit_code in (0, SIGPIPE) for stage in result.stages)


def _summary(result: PipelineResult) -> tuple[object, ...]:
    return (
        result.stdout_bytes,
        result.ok,
        result.failure_index,
        result.truncated,
        tuple(stage.ok for stage in result.stages),
        tuple(stage.stderr_bytes for stage in result.stages),
        result.stages[-1].exit_code,
    )


@pytest.mark.parametrize("downstream", ["cat", "head -c 1000"])
async def test_both_backends_give_identical_results(
    anyio_backend: str,
    cuprum_stream_backend: str,
    monkeypatch: pytest.MonkeyPatch,
    payload_16m: bytes,
    downstream: str,
) -> None:
    if not RUST_AVAILABLE:
        pytest.skip("Rust extension cuprum._streams_rs is not built: nothing to compare")
    last = cat() if downstream == "cat" else head("-c", "1000")
    pipeline = cat() | cat() | last
    summaries = []
    for backend in (cuprum_stream_backend, other_backend(cuprum_stream_backend)):
        use_backend(monkeypatch, backend)
        with anyio.fail_after(60):
            summaries.append(_summary(await pipeline.run(stdin=payload_16m)))
    assert summaries[0] == summaries[1]
    expected = payload_16m if downstream == "cat" else payload_16m[:1000]
    assert summaries[0][0] == expected
