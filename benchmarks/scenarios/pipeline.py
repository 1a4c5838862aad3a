"""1. Pipeline throughput: ``cat F | cat ... | wc -c`` against the same line under ``sh -c``."""

from __future__ import annotations

import shlex
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import cuprum
from benchmarks.harness import (
    BACKENDS,
    LOOPS,
    TARGET_PIPE,
    TARGET_TRIO,
    GiB,
    Item,
    MiB,
    Pair,
    Row,
    check,
    interleave,
    log,
    loop_run,
    row_for,
    size_name,
    use_backend,
)
from benchmarks.payloads import Payloads
from cuprum import CAT, WC, sh

TITLE = "1. Pipeline throughput (`cat F | cat ... | wc -c`) vs the same `sh -c`"


def pipeline_cmd(path: Path, pumps: int) -> cuprum.Pipeline:
    cat, wc = sh.make(CAT), sh.make(WC)
    pipe = cat(str(path)) | cat() if pumps > 1 else cat(str(path)) | wc("-c")
    if pumps == 1:
        return pipe
    for _ in range(pumps - 2):
        pipe = pipe | cat()
    return pipe | wc("-c")


def shell_line(path: Path, pumps: int) -> str:
    return " | ".join([f"cat {shlex.quote(str(path))}", *(["cat"] * (pumps - 1)), "wc -c"])


def cuprum_pipeline_item(loop: str, backend: str, path: Path, pumps: int, size: int) -> Item:
    async def go() -> float:
        pipe = pipeline_cmd(path, pumps)
        start = time.perf_counter()
        result = await pipe.run()
        seconds = time.perf_counter() - start
        check(result.ok and int(result.stdout or "-1") == size, f"bad pipeline result {result!r}")
        return seconds

    def fn() -> float:
        use_backend(backend)
        return loop_run(loop, go)

    return Item(f"cuprum/{loop}/{backend}", f"cuprum {loop}/{backend}", fn)


def shell_pipeline_item(path: Path, pumps: int, size: int) -> Item:
    line = shell_line(path, pumps)

    def fn() -> float:
        start = time.perf_counter()
        proc = subprocess.run(["sh", "-c", line], capture_output=True, check=True)
        seconds = time.perf_counter() - start
        check(int(proc.stdout) == size, "bad sh -c result")
        return seconds

    return Item("sh", f"sh -c ({pumps + 1} procs)", fn)


def bench_pipelines(
    payloads: Payloads,
    sizes: list[int],
    pump_counts: list[int],
    rounds_for: Callable[[int], int],
    *,
    loops: tuple[str, ...] = LOOPS,
    backends: tuple[str, ...] = BACKENDS,
) -> list[Row]:
    rows: list[Row] = []
    for size in sizes:
        path = payloads.random(size)
        for pumps in pump_counts:
            title = f"pipeline {size_name(size)} {pumps}p"
            log(f"\n{title}: {shell_line(Path('F'), pumps)}")
            ref = shell_pipeline_item(path, pumps, size)
            pairs = [
                Pair(cuprum_pipeline_item(loop, backend, path, pumps, size), ref)
                for loop in loops
                for backend in backends
            ]
            interleave(title, pairs, rounds_for(size))
            by_key: dict[tuple[str, str], float] = {}
            for pair, (loop, backend) in zip(
                pairs, [(lp, b) for lp in loops for b in backends], strict=True
            ):
                target = TARGET_PIPE[backend] if pumps == 3 else None
                row = row_for("pipeline", pair, "MB/s", size, target)
                row.label = f"{size_name(size)} {pumps}p {loop}/{backend}"
                row.ref_label = ref.label
                row.ref_samples = list(ref.samples)
                row.extra = {"payload": size, "pumps": pumps, "loop": loop, "backend": backend}
                by_key[loop, backend] = row.ratio or 0.0
                rows.append(row)
            # trio (and uvloop) against asyncio, same pipeline and backend.
            for row in rows[-len(pairs) :]:
                loop, backend = row.extra["loop"], row.extra["backend"]
                base = by_key.get(("asyncio", backend))
                if loop != "asyncio" and base:
                    rel = by_key[loop, backend] / base
                    row.extra["vs_asyncio"] = rel
                    if loop == "trio":
                        row.extra["trio_ok"] = rel >= TARGET_TRIO
    return rows


def run(payloads: Payloads, quick: bool) -> list[Row]:
    # Quick: the target pipeline and a smaller payload, fewer rounds.
    if quick:
        return bench_pipelines(payloads, [64 * MiB], [3], lambda _: 3)
    return bench_pipelines(
        payloads,
        [MiB, 64 * MiB, GiB],
        [1, 2, 3, 4],
        lambda size: {MiB: 15, 64 * MiB: 9}.get(size, 4),
    )
