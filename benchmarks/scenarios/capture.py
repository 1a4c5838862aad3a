"""3. Capture throughput: ``cat F`` with capture=True against ``subprocess.run``."""

from __future__ import annotations

import subprocess
import time

import anyio

from benchmarks.harness import (
    BACKENDS,
    LOOPS,
    TARGET_CAPTURE,
    Item,
    MiB,
    Pair,
    Row,
    Timer,
    check,
    interleave,
    log,
    loop_run,
    median,
    row_for,
    size_name,
    use_backend,
)
from benchmarks.payloads import Payloads
from cuprum import CAT, sh

TITLE = "3. Capture throughput (`cat F`, capture=True) vs subprocess.run"


def bench_capture(
    payloads: Payloads,
    size: int,
    rounds: int,
    *,
    loops: tuple[str, ...] = LOOPS,
    backends: tuple[str, ...] = BACKENDS,
) -> list[Row]:
    path = str(payloads.random(size))
    log(f"\ncapture {size_name(size)}: cat F, capture=True")

    def subprocess_fn() -> tuple[float, float]:
        timer = Timer()
        proc = subprocess.run(["cat", path], capture_output=True, check=True)
        out = timer.stop()
        check(len(proc.stdout) == size, "bad subprocess.run capture")
        return out

    ref = Item("subprocess.run", "subprocess.run(capture_output)", subprocess_fn)

    def run_process_item(loop: str) -> Item:
        async def go() -> float:
            start = time.perf_counter()
            proc = await anyio.run_process(["cat", path])
            seconds = time.perf_counter() - start
            check(len(proc.stdout) == size, "bad anyio.run_process capture")
            return seconds

        return Item(f"run_process/{loop}", f"anyio.run_process {loop}", lambda: loop_run(loop, go))

    def cuprum_item(loop: str, backend: str) -> Item:
        async def go() -> tuple[float, float]:
            cmd = sh.make(CAT)(path)
            timer = Timer()
            result = await cmd.run()
            out = timer.stop()
            check(len(result.stdout_bytes or b"") == size, "bad cuprum capture")
            return out

        def fn() -> tuple[float, float]:
            use_backend(backend)
            return loop_run(loop, go)

        return Item(f"cuprum/{loop}/{backend}", f"cuprum {loop}/{backend}", fn)

    pairs: list[Pair] = []
    for loop in loops:
        pairs.append(Pair(run_process_item(loop), ref))
        pairs.extend(Pair(cuprum_item(loop, backend), ref) for backend in backends)
    interleave(f"capture {size_name(size)}", pairs, rounds)
    rows: list[Row] = []
    run_process_median: dict[str, float] = {}
    python_median: dict[str, float] = {}
    for pair in pairs:
        _, loop, *rest = pair.cand.key.split("/")
        backend = rest[0] if rest else None
        target = TARGET_CAPTURE if backend else None
        row = row_for("capture", pair, "MB/s", size, target)
        row.label = f"{size_name(size)} {pair.cand.label}"
        row.ref_samples = list(ref.samples)
        row.extra = {"payload": size, "loop": loop, "backend": backend}
        if backend is None:
            run_process_median[loop] = median(pair.cand.samples)
        else:
            row.extra["vs_run_process"] = run_process_median[loop] / median(pair.cand.samples)
        if backend == "python":
            python_median[loop] = median(pair.cand.samples)
        elif backend == "rust" and loop in python_median:
            # The Rust backend must be no slower than the Python one.
            rel = python_median[loop] / median(pair.cand.samples)
            row.extra["vs_python"] = rel
            row.target += ", >= python"
            row.ok = bool(row.ok) and rel >= 1.0
        rows.append(row)
    return rows


def run(payloads: Payloads, quick: bool) -> list[Row]:
    if quick:
        return bench_capture(payloads, 64 * MiB, 2, loops=("asyncio", "trio"))
    return bench_capture(payloads, 256 * MiB, 3)
