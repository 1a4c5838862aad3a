"""4. Line events: ``cat`` of many short lines with a no-op listener."""

from __future__ import annotations

import subprocess
import time

import anyio

import cuprum
from benchmarks.harness import (
    BACKENDS,
    LOOPS,
    TARGET_LINES,
    Item,
    Pair,
    Row,
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

TITLE = "4. Line events, no-op listener (ref: subprocess.run + splitlines)"


def bench_lines(
    payloads: Payloads,
    count: int,
    rounds: int,
    *,
    loops: tuple[str, ...] = LOOPS,
    backends: tuple[str, ...] = BACKENDS,
) -> list[Row]:
    path = str(payloads.lines(count))
    log(f"\nline events: cat of {count:,} lines with a no-op listener")

    def plain_fn() -> float:
        start = time.perf_counter()
        proc = subprocess.run(["cat", path], capture_output=True, check=True)
        n = len(proc.stdout.decode().splitlines())
        seconds = time.perf_counter() - start
        check(n == count, "bad line count")
        return seconds

    ref = Item("subprocess+splitlines", "subprocess.run + splitlines", plain_fn)

    def cu_fn(loop: str, backend: str) -> float:
        async def go() -> float:
            cmd = sh.make(CAT)(path)
            with sh.observe(lambda e: None):
                start = time.perf_counter()
                result = await cmd.run()
                seconds = time.perf_counter() - start
            check(result.ok, "cat failed")
            return seconds

        use_backend(backend)
        return loop_run(loop, go)

    # Once, untimed: the listener does see every line.
    seen = 0

    def counter(event: cuprum.ExecEvent) -> None:
        nonlocal seen
        seen += event.line is not None

    async def count_once() -> None:
        with sh.observe(counter):
            await sh.make(CAT)(path).run()

    anyio.run(count_once)
    check(seen == count, f"listener saw {seen} lines, expected {count}")

    pairs = [
        Pair(
            Item(
                f"cuprum/{loop}/{b}",
                f"cuprum {loop}/{b}",
                lambda loop=loop, b=b: cu_fn(loop, b),
            ),
            ref,
        )
        for loop in loops
        for b in backends
    ]
    interleave("lines", pairs, rounds)
    rows = []
    for pair in pairs:
        row = row_for("lines", pair, "lines/s", count, None)
        rate = count / median(pair.cand.samples)
        row.target = f">= {TARGET_LINES / 1e6:.0f}M lines/s"
        row.ok = rate >= TARGET_LINES
        row.ref_samples = list(ref.samples)
        row.extra = {"lines": count}
        rows.append(row)
    return rows


def run(payloads: Payloads, quick: bool) -> list[Row]:
    if quick:  # with a listener both backends read lines in Python
        return bench_lines(payloads, 100_000, 2, backends=BACKENDS[-1:])
    return bench_lines(payloads, 1_000_000, 3)
