#!/usr/bin/env python3
"""Prototype engine changes, measured next to the current engine.

Nothing here changes cuprum: each variant monkeypatches the engine only
while its own samples run, and is interleaved with the unpatched engine and
the same reference as in ``run.py`` (candidate, reference, ...). The
numbers quoted in docs/performance.md come from this script::

    .venv/bin/python benchmarks/experiments.py [pump|readers|capture|lines|spawn ...]
"""

from __future__ import annotations

import contextlib
import inspect
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import run as bench
from run import Item, MiB, Pair, Payloads, interleave, log, median

import cuprum
import cuprum._capture
import cuprum._events
import cuprum._execution
import cuprum._io
import cuprum._plumbing
import cuprum._pump
from cuprum._backend import StreamBackend
from cuprum._fdstream import FdReceiveStream, FdSendStream
from cuprum._pump import CancelToken

Patch = Callable[[], contextlib.AbstractContextManager[Any]]


@contextlib.contextmanager
def setattrs(*changes: tuple[Any, str, Any]) -> Iterator[None]:
    saved = [(obj, name, getattr(obj, name)) for obj, name, _ in changes]
    for obj, name, value in changes:
        setattr(obj, name, value)
    try:
        yield
    finally:
        for obj, name, value in reversed(saved):
            setattr(obj, name, value)


def variant(item: Item, name: str, patch: Patch) -> Item:
    def fn() -> float:
        with patch():
            return item.fn()

    return Item(f"{item.key}+{name}", f"{item.label} +{name}", fn)


def report(title: str, pairs: list[Pair], per: float, unit: str) -> None:
    print(f"\n{title}")
    for pair in pairs:
        med = median(pair.cand.samples)
        best = min(pair.cand.samples)
        if unit == "MB/s":
            value = f"{per / med / 1e6:8,.0f} MB/s (best {per / best / 1e6:,.0f})"
        elif unit == "lines/s":
            value = f"{per / med / 1e6:6.2f} M lines/s (best {per / best / 1e6:.2f})"
        else:
            value = f"{med * 1e3:7.2f} ms (min {best * 1e3:.2f})"
        print(f"  {pair.cand.label:<48} {value}   x{median(pair.ratios):.2f} {pair.ref.label}")
    sys.stdout.flush()


# --------------------------------------------------------------------------
# Python pump variants


def chunk_patch(size: int) -> Patch:
    return lambda: setattrs((cuprum._pump, "PUMP_CHUNK", size))


async def splice_pump(
    source: FdReceiveStream,
    sink: FdSendStream,
    backend: StreamBackend,
    token: CancelToken | None,
    *rest: Any,
) -> int:
    """The Python backend's pump with os.splice (zero copy) instead of read/write.

    ``rest`` takes the byte-count callback of newer engines, if any.
    """
    if backend is StreamBackend.RUST:
        return await cuprum._pump.pump(source, sink, backend, token, *rest)
    on_bytes = rest[0] if rest else None
    flags = os.SPLICE_F_MOVE | os.SPLICE_F_NONBLOCK
    total = 0
    streak = 0
    while True:
        src, dst = source.fileno, sink.fileno
        if src < 0 or dst < 0:
            return total
        try:
            moved = os.splice(src, dst, 1 << 20, flags=flags)
        except BlockingIOError:
            streak = 0
            await anyio.wait_readable(src)  # at once if the source has data
            if source.fileno < 0:
                return total
            with contextlib.suppress(anyio.ClosedResourceError):
                await anyio.wait_writable(dst)
            continue
        except (BrokenPipeError, ConnectionResetError):
            return total
        if moved == 0:
            return total
        total += moved
        if on_bytes is not None:
            on_bytes(moved)
        streak += 1
        if streak >= 16:
            streak = 0
            await anyio.lowlevel.checkpoint()


def splice_patch() -> contextlib.AbstractContextManager[Any]:
    return setattrs((cuprum._io, "pump", splice_pump))


def pipe_size_patch(size: int | None) -> Patch:
    return lambda: setattrs((cuprum._plumbing, "PIPE_SIZE", size))


def exp_pump(payloads: Payloads, size: int, rounds: int) -> None:
    path = payloads.random(size)
    ref = bench.shell_pipeline_item(path, 3, size)
    pairs = []
    for loop in ("asyncio", "trio"):
        base = bench.cuprum_pipeline_item(loop, "python", path, 3, size)
        pairs += [
            Pair(base, ref),
            Pair(variant(base, "PUMP_CHUNK=1MiB", chunk_patch(MiB)), ref),
            Pair(variant(base, "os.splice pump", splice_patch), ref),
        ]
    for loop in ("asyncio", "trio"):
        base = bench.cuprum_pipeline_item(loop, "rust", path, 3, size)
        pairs += [
            Pair(base, ref),
            Pair(variant(base, "64KiB pipes", pipe_size_patch(None)), ref),
        ]
    interleave("pump", pairs, rounds)
    report(f"3-pump pipeline, {size >> 20} MiB, vs sh -c", pairs, size, "MB/s")


def exp_readers(payloads: Payloads, size: int, rounds: int) -> None:
    """Rust pipelines whose captured streams are read in Python (no consume threads)."""
    path = payloads.random(size)
    ref = bench.shell_pipeline_item(path, 3, size)
    pairs = []
    for loop in ("asyncio", "trio"):
        base = bench.cuprum_pipeline_item(loop, "rust", path, 3, size)
        pairs += [Pair(base, ref), Pair(variant(base, "Python readers", python_readers_patch), ref)]
    interleave("readers", pairs, rounds)
    report(f"3-pump pipeline, {size >> 20} MiB, Rust pumps, vs sh -c", pairs, size, "MB/s")


# --------------------------------------------------------------------------
# capture variants


def _build_result_nodecode(self: Any, encoding: str, errors: str, *, last: bool) -> Any:
    """Stage.build_result, but stdout/stderr are left undecoded (str None).

    The upper bound of decoding lazily, on first access of ``.stdout``.
    """
    child = self.child
    out = self.stdout.getvalue() if self.stdout is not None else None
    err = self.stderr.getvalue() if self.stderr is not None else None
    code = child.returncode if child else None
    excused = code == -13 and not last
    duration = (child.exited_at or time.monotonic()) - child.started_at if child else 0.0
    return cuprum.CommandResult(
        program=self.cmd.program, argv=self.cmd.argv, pid=child.pid if child else None,
        exit_code=code, stdout=None, stderr=None, stdout_bytes=out, stderr_bytes=err,
        duration=duration, ok=code is not None and (code in self.ok_codes or excused),
        truncated=any(c is not None and c.truncated for c in (self.stdout, self.stderr)),
    )  # fmt: skip


def nodecode_patch() -> contextlib.AbstractContextManager[Any]:
    return setattrs((cuprum._execution.Stage, "build_result", _build_result_nodecode))


def python_readers_patch() -> contextlib.AbstractContextManager[Any]:
    """Rust backend, but output read by the Python reader (no consume thread)."""
    orig = cuprum._io._reader_task

    def reader_task(run: Any, stage: Any, stream: Any, name: str) -> Any:
        saved, run.backend = run.backend, StreamBackend.PYTHON
        try:
            return orig(run, stage, stream, name)
        finally:
            run.backend = saved

    return setattrs((cuprum._io, "_reader_task", reader_task))


@contextlib.contextmanager
def both(*patches: Patch) -> Iterator[None]:
    with contextlib.ExitStack() as stack:
        for patch in patches:
            stack.enter_context(patch())
        yield


def exp_capture(payloads: Payloads, size: int, rounds: int, text: bool) -> None:
    if text:
        path = payloads.dir / f"text-{size}"
        line = b"the quick brown fox jumps over the lazy dog 0123456789\n"
        path.write_bytes(line * (size // len(line)) + b"x" * (size % len(line)))
    else:
        path = payloads.random(size)
    spath = str(path)

    def sub_fn() -> float:
        import subprocess

        start = time.perf_counter()
        proc = subprocess.run(["cat", spath], capture_output=True, check=True)
        seconds = time.perf_counter() - start
        bench.check(len(proc.stdout) == size, "bad capture")
        return seconds

    ref = Item("subprocess.run", "subprocess.run(capture_output)", sub_fn)

    def cu(backend: str) -> Item:
        async def go() -> float:
            cmd = cuprum.sh.make(cuprum.CAT)(spath)
            start = time.perf_counter()
            result = await cmd.run()
            seconds = time.perf_counter() - start
            bench.check(len(result.stdout_bytes or b"") == size, "bad capture")
            return seconds

        def fn() -> float:
            bench.use_backend(backend)
            return bench.loop_run("asyncio", go)

        return Item(f"cuprum/{backend}", f"cuprum asyncio/{backend}", fn)

    read_1m = lambda: setattrs((cuprum._pump, "RUST_READ_CHUNK", MiB))  # noqa: E731
    py_read_1m = lambda: setattrs((cuprum._capture, "READ_SIZE", MiB))  # noqa: E731
    pairs = [
        Pair(cu("python"), ref),
        Pair(cu("rust"), ref),
        Pair(variant(cu("python"), "no decode", nodecode_patch), ref),
        Pair(
            variant(
                cu("python"), "no decode, READ_SIZE=1MiB", lambda: both(nodecode_patch, py_read_1m)
            ),
            ref,
        ),
        Pair(variant(cu("rust"), "no decode", nodecode_patch), ref),
        Pair(
            variant(
                cu("rust"), "no decode, RUST_READ_CHUNK=1MiB", lambda: both(nodecode_patch, read_1m)
            ),
            ref,
        ),
    ]
    interleave("capture", pairs, rounds)
    kind = "text" if text else "random bytes"
    report(f"capture {size >> 20} MiB of {kind}, vs subprocess.run", pairs, size, "MB/s")


# --------------------------------------------------------------------------
# line-event variants


async def _emit_fast(self: Any, event: Any) -> None:
    for listener in self.listeners:
        outcome = listener(event)
        if outcome is not None and inspect.isawaitable(outcome):
            await outcome


class _FastEvent:
    """ExecEvent's fields in a plain __slots__ class (no frozen setattr)."""

    __slots__ = (
        "argv", "bytes_out", "cwd", "duration", "exit_code", "host", "line", "phase",
        "pid", "pipeline_id", "program", "run_id", "stage_index", "tags", "time", "unsafe",
    )  # fmt: skip

    def __init__(
        self, *, phase: Any, run_id: Any, pipeline_id: Any, stage_index: Any, program: Any,
        argv: Any, cwd: Any, pid: Any, time: Any, tags: Any, line: Any = None,
        exit_code: Any = None, duration: Any = None, unsafe: bool = False,
        bytes_out: Any = None, host: Any = None,
    ) -> None:  # fmt: skip
        self.phase = phase
        self.run_id = run_id
        self.pipeline_id = pipeline_id
        self.stage_index = stage_index
        self.program = program
        self.argv = argv
        self.cwd = cwd
        self.pid = pid
        self.time = time
        self.tags = tags
        self.line = line
        self.exit_code = exit_code
        self.duration = duration
        self.unsafe = unsafe
        self.bytes_out = bytes_out
        self.host = host


def emit_patch() -> contextlib.AbstractContextManager[Any]:
    return setattrs((cuprum._events.Observers, "emit", _emit_fast))


def event_patch() -> contextlib.AbstractContextManager[Any]:
    return setattrs((cuprum._execution, "ExecEvent", _FastEvent))


def exp_lines(payloads: Payloads, count: int, rounds: int) -> None:
    path = str(payloads.lines(count))

    def cu() -> Item:
        async def go() -> float:
            cmd = cuprum.sh.make(cuprum.CAT)(path)
            with cuprum.sh.observe(lambda e: None):
                start = time.perf_counter()
                await cmd.run()
                return time.perf_counter() - start

        def fn() -> float:
            bench.use_backend("python")
            return bench.loop_run("asyncio", go)

        return Item("cuprum", "cuprum asyncio", fn)

    def floor_fn() -> float:
        # The floor of one Python object and one listener call per line.
        data = Path(path).read_bytes()
        listener = lambda e: None  # noqa: E731
        start = time.perf_counter()
        for line in data.decode().split("\n"):
            listener((line, 0, "run-1"))
        return time.perf_counter() - start

    ref = Item("floor", "split + tuple + call per line", floor_fn)
    pairs = [
        Pair(cu(), ref),
        Pair(variant(cu(), "emit w/o isawaitable", emit_patch), ref),
        Pair(variant(cu(), "slots event", event_patch), ref),
        Pair(variant(cu(), "both", lambda: both(emit_patch, event_patch)), ref),
    ]
    interleave("lines", pairs, rounds)
    report(f"line events, {count:,} lines, no-op listener", pairs, count, "lines/s")


# --------------------------------------------------------------------------
# spawn variants


def exp_spawn(count: int, rounds: int) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        for width in (1, 8):
            for loop in ("asyncio", "trio"):
                items = bench.spawn_items(loop, count, width, pool, ("python", "rust"))
                ref = items["ref"]
                pairs = [
                    Pair(items["python"], ref),
                    Pair(items["rust"], ref),
                    Pair(variant(items["rust"], "Python readers", python_readers_patch), ref),
                ]
                interleave(f"spawn {width} {loop}", pairs, rounds)
                report(f"spawn+wait true, {width} at a time, {loop}", pairs, 1, "s")


def main() -> int:
    which = set(sys.argv[1:]) or {"pump", "capture", "lines", "spawn"}
    payloads = Payloads()
    try:
        if "pump" in which:
            exp_pump(payloads, 256 * MiB, 5)
        if "readers" in which:
            exp_readers(payloads, 64 * MiB, 9)
            exp_readers(payloads, MiB, 15)
        if "capture" in which:
            exp_capture(payloads, 256 * MiB, 3, text=False)
            exp_capture(payloads, 256 * MiB, 3, text=True)
        if "lines" in which:
            exp_lines(payloads, 300_000, 3)
        if "spawn" in which:
            exp_spawn(100, 4)
    finally:
        payloads.cleanup()
    log("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
