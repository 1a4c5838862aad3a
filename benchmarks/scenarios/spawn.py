"""4. Spawn+wait latency of ``true`` against ``anyio.run_process`` on the same loop."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio

from benchmarks.harness import (
    BACKENDS,
    LOOPS,
    TARGET_SPAWN,
    Item,
    Pair,
    Row,
    Timer,
    check,
    interleave,
    log,
    loop_run,
    row_for,
    use_backend,
)
from benchmarks.payloads import Payloads
from cuprum import TRUE, sh

TITLE = "4. Spawn+wait latency of `true` (per spawn) vs subprocess.run (capture_output=True)"


async def spread(job: Callable[[], Any], n: int, width: int) -> None:
    """Await ``job()`` ``n`` times, ``width`` at a time."""
    left = n

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await job()

    async with anyio.create_task_group() as tg:
        for _ in range(width):
            tg.start_soon(worker)


def spawn_items(
    loop: str, count: int, width: int, pool: ThreadPoolExecutor, backends: tuple[str, ...]
) -> dict[str, Item]:
    true = shutil.which("true") or "true"

    def subprocess_fn() -> tuple[float, float]:
        def one(_: object = None) -> None:
            subprocess.run([true], capture_output=True, check=True)

        timer = Timer()
        if width == 1:
            for _ in range(count):
                one()
        else:
            list(pool.map(one, range(count)))
        seconds, cpu = timer.stop()
        return seconds / count, cpu / count

    async def rp_one() -> None:
        await anyio.run_process([true])

    async def rp_go() -> tuple[float, float]:
        timer = Timer()
        await spread(rp_one, count, width)
        seconds, cpu = timer.stop()
        return seconds / count, cpu / count

    def cu_fn(backend: str) -> tuple[float, float]:
        cmd = sh.make(TRUE)()

        async def one() -> None:
            result = await cmd.run()
            check(result.ok, "true failed")

        async def go() -> tuple[float, float]:
            timer = Timer()
            await spread(one, count, width)
            seconds, cpu = timer.stop()
            return seconds / count, cpu / count

        use_backend(backend)
        return loop_run(loop, go)

    items = {
        "run_process": Item(
            f"run_process/{loop}", f"anyio.run_process {loop}", lambda: loop_run(loop, rp_go)
        ),
        "subprocess": Item("subprocess.run", "subprocess.run", subprocess_fn),
    }
    for backend in backends:
        items[backend] = Item(
            f"cuprum/{loop}/{backend}", f"cuprum {loop}/{backend}", lambda b=backend: cu_fn(b)
        )
    return items


def bench_spawn(
    count: int,
    rounds: int,
    concurrency: int,
    *,
    loops: tuple[str, ...] = LOOPS,
    backends: tuple[str, ...] = BACKENDS,
) -> list[Row]:
    rows: list[Row] = []
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for width in (1, concurrency):
            mode = "sequential" if width == 1 else f"{width} at a time"
            log(f"\nspawn+wait `true`, {mode}: batches of {count}, time per spawn")
            for loop in loops:
                items = spawn_items(loop, count, width, pool, backends)
                ref = items["subprocess"]
                pairs = [Pair(items[b], ref) for b in backends]
                pairs.append(Pair(items["run_process"], ref))
                interleave(f"spawn {mode} {loop}", pairs, rounds)
                for pair in pairs:
                    is_cuprum = pair.cand.key.startswith("cuprum")
                    row = row_for("spawn", pair, "s", 1, TARGET_SPAWN if is_cuprum else None)
                    row.label = f"{mode} {pair.cand.label}"
                    row.ref_samples = list(ref.samples)
                    row.extra = {"loop": loop, "concurrency": width, "batch": count}
                    if not is_cuprum:
                        row.target = "(info)"
                    rows.append(row)
    return rows


def run(payloads: Payloads, quick: bool) -> list[Row]:
    return bench_spawn(20 if quick else 100, 2 if quick else 5, 8)
