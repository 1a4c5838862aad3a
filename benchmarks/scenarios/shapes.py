"""2. Pipeline shapes people run, against the same line under ``sh -c``: wall and CPU.

Four shapes (issue 16): bulk copies (`cat F | cat | cat | wc -c`), a filter
chain with small writes (`cat LOG | grep -v DEBUG | grep -c ERROR`), a
producer cut short (`yes | head -c N | wc -c`) and 4 KiB writes end to end
(`seq N | cat | tail -n 1`). CPU is user + system time of this process and
its children (cuprum: the engine, its pump threads and the stages; the
shell: `sh` and its pipeline), from `getrusage`, around each run.
"""

from __future__ import annotations

import shlex
import subprocess
from dataclasses import dataclass

from benchmarks.harness import (
    BACKENDS,
    LOOPS,
    TARGET_SHAPE,
    TARGET_SHAPE_CPU,
    Item,
    MiB,
    Pair,
    Row,
    Timer,
    check,
    interleave,
    log,
    loop_run,
    row_for,
    size_name,
    use_backend,
)
from benchmarks.payloads import Payloads
from cuprum import Pipeline, unsafe

TITLE = (
    "2. Pipeline shapes vs the same `sh -c` (ratio: sh time / cuprum time;"
    " cpu: cuprum CPU / sh CPU, self + children)"
)


@dataclass(frozen=True)
class Shape:
    name: str
    stages: tuple[tuple[str, ...], ...]
    expect: bytes  # the last stage's output, stripped

    @property
    def line(self) -> str:
        return " | ".join(shlex.join(stage) for stage in self.stages)

    def pipeline(self) -> Pipeline:
        first, *rest = (unsafe.dynamic(list(stage)) for stage in self.stages)
        pipe = first | rest[0]
        for stage in rest[1:]:
            pipe = pipe | stage
        return pipe


def shapes(payloads: Payloads, size: int) -> list[Shape]:
    data, logs = payloads.random(size), payloads.log(size)
    text = logs.read_bytes()
    kept = [line for line in text.splitlines() if b"DEBUG" not in line]
    errors = sum(b"ERROR" in line for line in kept)
    count = size // 9  # `seq` prints about 9 bytes per number at these sizes
    return [
        Shape("cat3", (("cat", str(data)), ("cat",), ("cat",), ("wc", "-c")), str(size).encode()),
        Shape(
            "grep",
            (("cat", str(logs)), ("grep", "-v", "DEBUG"), ("grep", "-c", "ERROR")),
            str(errors).encode(),
        ),
        Shape("yes", (("yes",), ("head", "-c", str(size)), ("wc", "-c")), str(size).encode()),
        Shape("seq", (("seq", str(count)), ("cat",), ("tail", "-n", "1")), str(count).encode()),
    ]


def shell_item(shape: Shape) -> Item:
    def fn() -> tuple[float, float]:
        timer = Timer()
        proc = subprocess.run(["sh", "-c", shape.line], capture_output=True, check=True)
        out = timer.stop()
        check(proc.stdout.strip() == shape.expect, f"bad sh -c result for {shape.name}")
        return out

    return Item(f"sh/{shape.name}", "sh -c", fn)


def cuprum_item(shape: Shape, loop: str, backend: str) -> Item:
    async def go() -> tuple[float, float]:
        pipe = shape.pipeline()
        timer = Timer()
        result = await pipe.run()
        out = timer.stop()
        check(result.ok, f"{shape.name} failed: {result!r}")
        check((result.stdout_bytes or b"").strip() == shape.expect, f"bad {shape.name} output")
        return out

    def fn() -> tuple[float, float]:
        use_backend(backend)
        return loop_run(loop, go)

    return Item(f"cuprum/{shape.name}/{loop}/{backend}", f"{shape.name} {loop}/{backend}", fn)


def bench_shapes(
    payloads: Payloads,
    size: int,
    rounds: int,
    *,
    loops: tuple[str, ...] = LOOPS,
    backends: tuple[str, ...] = BACKENDS,
) -> list[Row]:
    rows: list[Row] = []
    for shape in shapes(payloads, size):
        title = f"shape {shape.name} {size_name(size)}"
        log(f"\n{title}: {shape.line}")
        ref = shell_item(shape)
        pairs = [Pair(cuprum_item(shape, loop, b), ref) for loop in loops for b in backends]
        interleave(title, pairs, rounds)
        for pair in pairs:
            row = row_for("shapes", pair, "MB/s", size, TARGET_SHAPE)
            row.label = f"{size_name(size)} {pair.cand.label}"
            row.ref_label = ref.label
            row.ref_samples = list(ref.samples)
            cpu = row.cpu_ratio if row.cpu_ratio is not None else float("inf")
            row.target = f">= {TARGET_SHAPE:.1f}x, cpu <= {TARGET_SHAPE_CPU:.1f}x"
            row.ok = (row.ratio or 0.0) >= TARGET_SHAPE and cpu <= TARGET_SHAPE_CPU
            _, _, loop, backend = pair.cand.key.split("/")
            row.extra = {"shape": shape.name, "line": shape.line, "payload": size,
                         "loop": loop, "backend": backend}  # fmt: skip
            rows.append(row)
    return rows


def run(payloads: Payloads, quick: bool) -> list[Row]:
    if quick:
        return bench_shapes(payloads, 128 * MiB, 2, loops=("asyncio", "trio"))
    return bench_shapes(payloads, 256 * MiB, 5)
