"""5. Lines: line events with a no-op listener, and ``lines()`` against its floor.

Line events: ``cat`` of many short lines under ``sh.observe`` with a no-op
synchronous listener, with ``capture=True`` and ``capture=False`` (one event
per line either way); the rate is lines per second of the whole run, next
to ``subprocess.run`` + ``splitlines`` (which builds no event). ``lines()``:
``async for line in cat(F).lines()`` against a bare async generator over
the same lines already split (the floor for any async iterator of lines).
"""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator

import anyio

import cuprum
from benchmarks.harness import (
    BACKENDS,
    LOOPS,
    TARGET_LINES,
    TARGET_LINES_ITER,
    Item,
    Pair,
    Row,
    Timer,
    check,
    interleave,
    log,
    loop_run,
    median,
    row_for,
    use_backend,
)
from benchmarks.payloads import Payloads
from cuprum import CAT, sh

TITLE = (
    "5. Lines: events with a no-op listener (ref: subprocess.run + splitlines),"
    " and lines() vs a bare async generator"
)


def count_events(path: str, *, capture: bool) -> int:
    seen = 0

    def counter(event: cuprum.ExecEvent) -> None:
        nonlocal seen
        seen += event.line is not None

    async def go() -> None:
        with sh.observe(counter):
            await sh.make(CAT)(path).run(capture=capture)

    anyio.run(go)
    return seen


def bench_events(
    path: str, count: int, rounds: int, loops: tuple[str, ...], backends: tuple[str, ...]
) -> list[Row]:
    log(f"\nline events: cat of {count:,} lines with a no-op listener")

    def plain_fn() -> tuple[float, float]:
        timer = Timer()
        proc = subprocess.run(["cat", path], capture_output=True, check=True)
        n = len(proc.stdout.decode().splitlines())
        out = timer.stop()
        check(n == count, "bad line count")
        return out

    ref = Item("subprocess+splitlines", "subprocess.run + splitlines", plain_fn)

    def cu_fn(loop: str, backend: str, capture: bool) -> tuple[float, float]:
        async def go() -> tuple[float, float]:
            cmd = sh.make(CAT)(path)
            with sh.observe(lambda e: None):
                timer = Timer()
                result = await cmd.run(capture=capture)
                out = timer.stop()
            check(result.ok, "cat failed")
            return out

        use_backend(backend)
        return loop_run(loop, go)

    # Once, untimed, each way: the listener does see every line.
    for capture in (True, False):
        check(count_events(path, capture=capture) == count, "the listener missed lines")

    pairs = [
        Pair(
            Item(
                f"events/{loop}/{b}/{capture}",
                f"events {loop}/{b} capture={capture}",
                lambda loop=loop, b=b, capture=capture: cu_fn(loop, b, capture),
            ),
            ref,
        )
        for loop in loops
        for b in backends
        for capture in (True, False)
    ]
    interleave("line events", pairs, rounds)
    rows = []
    for pair in pairs:
        row = row_for("lines", pair, "lines/s", count, None)
        rate = count / median(pair.cand.samples)
        row.target = f">= {TARGET_LINES / 1e6:.0f}M lines/s"
        row.ok = rate >= TARGET_LINES
        row.ref_samples = list(ref.samples)
        row.extra = {"lines": count, "kind": "events"}
        rows.append(row)
    return rows


def bench_iteration(
    path: str, count: int, rounds: int, loops: tuple[str, ...], backends: tuple[str, ...]
) -> list[Row]:
    log(f"\nlines(): cat of {count:,} lines, against a bare async generator")
    with open(path) as f:
        split = f.read().splitlines()

    async def bare() -> AsyncIterator[str]:
        for line in split:
            yield line

    def floor_item(loop: str) -> Item:
        async def go() -> tuple[float, float]:
            n = 0
            timer = Timer()
            async for _ in bare():
                n += 1
            out = timer.stop()
            check(n == count, "bad floor count")
            return out

        return Item(f"floor/{loop}", f"bare async generator {loop}", lambda: loop_run(loop, go))

    def cu_item(loop: str, backend: str) -> Item:
        async def go() -> tuple[float, float]:
            n = 0
            timer = Timer()
            async for _ in sh.make(CAT)(path).lines():
                n += 1
            out = timer.stop()
            check(n == count, "bad lines() count")
            return out

        def fn() -> tuple[float, float]:
            use_backend(backend)
            return loop_run(loop, go)

        return Item(f"lines/{loop}/{backend}", f"lines() {loop}/{backend}", fn)

    pairs = [Pair(cu_item(loop, b), floor_item(loop)) for loop in loops for b in backends]
    interleave("lines()", pairs, rounds)
    rows = []
    for pair in pairs:
        row = row_for("lines", pair, "lines/s", count, TARGET_LINES_ITER)
        row.ref_samples = list(pair.ref.samples)
        row.extra = {"lines": count, "kind": "iteration"}
        rows.append(row)
    return rows


def run(payloads: Payloads, quick: bool) -> list[Row]:
    if quick:
        path = str(payloads.lines(200_000))
        loops: tuple[str, ...] = ("asyncio", "trio")
        return bench_events(path, 200_000, 2, loops, BACKENDS) + bench_iteration(
            path, 200_000, 3, loops, BACKENDS
        )
    path = str(payloads.lines(1_000_000))
    return bench_events(path, 1_000_000, 3, LOOPS, BACKENDS) + bench_iteration(
        path, 1_000_000, 5, LOOPS, BACKENDS
    )
