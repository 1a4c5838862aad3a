#!/usr/bin/env python3
"""Prototype engine changes, measured next to the current engine.

Nothing here changes cuprum: each variant monkeypatches the engine only
while its own samples run, and is interleaved with the unpatched engine and
the same reference as in ``make bench`` (candidate, reference, ...). The
numbers quoted in docs/performance.md come from this script::

    .venv/bin/python benchmarks/experiments.py [--quick] [pump|readers|capture|lines|spawn ...]

``--quick`` runs each experiment once at a tiny size: a smoke test of the
patches, not a measurement.

Prototypes since adopted by the engine are no longer patched in; where the
old engine can still be had by a patch, it is measured instead:

- the ``os.splice`` Python pump is `cuprum._pump.python_pump`; ``pump``
  measures the read/write loop it replaced (``_HAS_SPLICE=False``);
- emit without ``inspect.isawaitable`` for a listener that returned None is
  `cuprum._events.Observers.emit`; a small event per line (the "slots event"
  prototype) became `cuprum._execevent.Stamp` and `Observers.emit_lines`;
- lazy decoding is `cuprum.CommandResult` (the "no decode" variants);
- the Rust ``consume`` reads first on the loop (`cuprum._pump.rust_consume`),
  so small outputs never pay a thread: "Python readers" is now close to
  the plain Rust backend in ``spawn`` and ``readers``, kept to show it.
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

# Run by path, Python puts benchmarks/ on sys.path, not the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cuprum
import cuprum._capture
import cuprum._events
import cuprum._plumbing
import cuprum._pump
import cuprum._pumpers
import cuprum._stage
from benchmarks.harness import (
    Item,
    MiB,
    Pair,
    check,
    fmt_rate,
    fmt_time,
    interleave,
    log,
    loop_run,
    median,
    row_for,
    size_name,
    use_backend,
)
from benchmarks.payloads import Payloads
from benchmarks.scenarios.pipeline import cuprum_pipeline_item, shell_pipeline_item
from benchmarks.scenarios.spawn import spawn_items

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


def setting(*changes: tuple[Any, str, Any]) -> Patch:
    """A patch that applies ``changes`` (object, attribute, value) while it is active."""
    return lambda: setattrs(*changes)


def variant(item: Item, name: str, patch: Patch) -> Item:
    def fn() -> float:
        with patch():
            return item.fn()

    return Item(f"{item.key}+{name}", f"{item.label} +{name}", fn)


def report(title: str, pairs: list[Pair], per: float, unit: str) -> None:
    print(f"\n{title}")
    for pair in pairs:
        row = row_for(title, pair, unit, per, None)
        med, best = median(row.samples), min(row.samples)
        if unit == "s":
            value = f"{fmt_time(med):>9} (min {fmt_time(best)})"
        else:
            value = f"{fmt_rate(row.value(med), unit):>16} (best {fmt_rate(row.value(best), unit)})"
        print(f"  {pair.cand.label:<52} {value}   x{row.ratio:.2f} {pair.ref.label}")
    sys.stdout.flush()


# --------------------------------------------------------------------------
# pumps between stages


# The Python pump before os.splice (now the engine's, between two pipes):
# the read/write loop, which `python_pump` falls back to without splice.
READ_WRITE = ((cuprum._pump, "_HAS_SPLICE", False),)

# The Rust backend without consume threads: `reader_task` asks the run's
# pumper for a bulk reader; None makes it read the stream in Python.
python_readers_patch = setting(
    (cuprum._pumpers.RustPumper, "consume", lambda self, source, capture: None)
)


def exp_pump(payloads: Payloads, size: int, rounds: int) -> None:
    path = payloads.random(size)
    ref = shell_pipeline_item(path, 3, size)
    pairs = []
    for loop in ("asyncio", "trio"):
        base = cuprum_pipeline_item(loop, "python", path, 3, size)
        chunk = (cuprum._pump, "PUMP_CHUNK", MiB)  # read size of the read/write loop
        pairs += [
            Pair(base, ref),
            Pair(variant(base, "read/write pump", setting(*READ_WRITE)), ref),
            Pair(variant(base, "read/write, PUMP_CHUNK=1MiB", setting(*READ_WRITE, chunk)), ref),
        ]
    for loop in ("asyncio", "trio"):
        base = cuprum_pipeline_item(loop, "rust", path, 3, size)
        small_pipes = setting((cuprum._plumbing, "PIPE_SIZE", None))
        pairs += [Pair(base, ref), Pair(variant(base, "64KiB pipes", small_pipes), ref)]
    interleave("pump", pairs, rounds)
    report(f"3-pump pipeline, {size_name(size)}, vs sh -c", pairs, size, "MB/s")


def exp_readers(payloads: Payloads, size: int, rounds: int) -> None:
    """Rust pipelines whose captured streams are read in Python (no consume threads)."""
    path = payloads.random(size)
    ref = shell_pipeline_item(path, 3, size)
    pairs = []
    for loop in ("asyncio", "trio"):
        base = cuprum_pipeline_item(loop, "rust", path, 3, size)
        pairs += [Pair(base, ref), Pair(variant(base, "Python readers", python_readers_patch), ref)]
    interleave("readers", pairs, rounds)
    report(f"3-pump pipeline, {size_name(size)}, Rust pumps, vs sh -c", pairs, size, "MB/s")


# --------------------------------------------------------------------------
# capture


def text_payload(payloads: Payloads, size: int) -> Path:
    path = payloads.dir / f"text-{size}"
    if not path.exists():
        line = b"the quick brown fox jumps over the lazy dog 0123456789\n"
        path.write_bytes(line * (size // len(line)) + b"x" * (size % len(line)))
    return path


def exp_capture(payloads: Payloads, size: int, rounds: int, *, text: bool) -> None:
    # The "no decode" variants are gone: CommandResult decodes on first
    # access, and nothing here reads `.stdout`.
    spath = str(text_payload(payloads, size) if text else payloads.random(size))

    def sub_fn() -> float:
        start = time.perf_counter()
        proc = subprocess.run(["cat", spath], capture_output=True, check=True)
        seconds = time.perf_counter() - start
        check(len(proc.stdout) == size, "bad capture")
        return seconds

    ref = Item("subprocess.run", "subprocess.run(capture_output)", sub_fn)

    def cu(backend: str) -> Item:
        async def go() -> float:
            cmd = cuprum.sh.make(cuprum.CAT)(spath)
            start = time.perf_counter()
            result = await cmd.run()
            seconds = time.perf_counter() - start
            check(len(result.stdout_bytes or b"") == size, "bad capture")
            return seconds

        def fn() -> float:
            use_backend(backend)
            return loop_run("asyncio", go)

        return Item(f"cuprum/{backend}", f"cuprum asyncio/{backend}", fn)

    py_read_1m = setting((cuprum._capture, "READ_SIZE", MiB))  # `read_python`
    rust_read_1m = setting((cuprum._pump, "RUST_READ_CHUNK", MiB))  # `rust_consume`
    pairs = [
        Pair(cu("python"), ref),
        Pair(variant(cu("python"), "READ_SIZE=1MiB", py_read_1m), ref),
        Pair(cu("rust"), ref),
        Pair(variant(cu("rust"), "RUST_READ_CHUNK=1MiB", rust_read_1m), ref),
    ]
    interleave("capture", pairs, rounds)
    kind = "text" if text else "random bytes"
    report(f"capture {size_name(size)} of {kind}, vs subprocess.run", pairs, size, "MB/s")


# --------------------------------------------------------------------------
# line events


def exp_lines(payloads: Payloads, count: int, rounds: int) -> None:
    # The "emit w/o isawaitable" and "slots event" variants are gone: the
    # engine builds events from a shared Stamp and emits a read's lines at once.
    path = str(payloads.lines(count))

    def cu() -> Item:
        async def go() -> float:
            cmd = cuprum.sh.make(cuprum.CAT)(path)
            with cuprum.sh.observe(lambda e: None):
                start = time.perf_counter()
                await cmd.run()
                return time.perf_counter() - start

        def fn() -> float:
            use_backend("python")  # with a listener both backends read lines in Python
            return loop_run("asyncio", go)

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
    pairs = [Pair(cu(), ref)]
    interleave("lines", pairs, rounds)
    report(f"line events, {count:,} lines, no-op listener", pairs, count, "lines/s")


# --------------------------------------------------------------------------
# spawn


def exp_spawn(count: int, rounds: int) -> None:
    with ThreadPoolExecutor(8) as pool:
        for width in (1, 8):
            for loop in ("asyncio", "trio"):
                items = spawn_items(loop, count, width, pool, ("python", "rust"))
                ref = items["run_process"]
                pairs = [
                    Pair(items["python"], ref),
                    Pair(items["rust"], ref),
                    Pair(variant(items["rust"], "Python readers", python_readers_patch), ref),
                ]
                interleave(f"spawn {width} {loop}", pairs, rounds)
                report(f"spawn+wait true, {width} at a time, {loop}", pairs, 1, "s")


# --------------------------------------------------------------------------
# command line

EXPERIMENTS = ("pump", "readers", "capture", "lines", "spawn")
DEFAULT = ("pump", "capture", "lines", "spawn")


def run(name: str, payloads: Payloads, *, quick: bool) -> None:
    if name == "pump":
        exp_pump(payloads, MiB if quick else 256 * MiB, 1 if quick else 5)
    elif name == "readers":
        for size, rounds in [(MiB, 1)] if quick else [(64 * MiB, 9), (MiB, 15)]:
            exp_readers(payloads, size, rounds)
    elif name == "capture":
        for text in (False, True):
            exp_capture(payloads, MiB if quick else 256 * MiB, 1 if quick else 3, text=text)
    elif name == "lines":
        exp_lines(payloads, 10_000 if quick else 300_000, 1 if quick else 3)
    elif name == "spawn":
        exp_spawn(10 if quick else 100, 1 if quick else 4)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "experiments", nargs="*", metavar="EXPERIMENT",
        help=f"any of {', '.join(EXPERIMENTS)} (default: {' '.join(DEFAULT)})",
    )  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one round (smoke test)")
    args = parser.parse_args(argv)
    unknown = set(args.experiments) - set(EXPERIMENTS)
    if unknown:
        parser.error(f"unknown experiment(s): {', '.join(sorted(unknown))}")
    which = set(args.experiments) or set(DEFAULT)
    payloads = Payloads()
    try:
        for name in EXPERIMENTS:
            if name in which:
                run(name, payloads, quick=args.quick)
    finally:
        payloads.cleanup()
    log("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
