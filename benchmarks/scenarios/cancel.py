"""6. Cancellation of a Rust pump: time from cancel to return, and to no Rust call left."""

from __future__ import annotations

import gc
import time

import anyio

from benchmarks.harness import (
    BACKENDS,
    LOOPS,
    TARGET_CANCEL,
    Row,
    fmt_time,
    log,
    loop_run,
    median,
    use_backend,
)
from benchmarks.payloads import Payloads
from cuprum import CAT, WC, sh
from cuprum._pump import active_rust_calls

TITLE = "7. Cancelled pump: time from cancel"


def bench_cancel(
    rounds: int, loops: tuple[str, ...] = LOOPS, backends: tuple[str, ...] = BACKENDS
) -> list[Row]:
    log("\ncancel: cat /dev/zero | cat | wc -c, cancelled after 0.2 s")
    rows = []

    async def once() -> tuple[float, float, int]:
        cat, wc = sh.make(CAT), sh.make(WC)
        scope = anyio.CancelScope()
        marks: dict[str, float] = {}
        busy = 0

        async def canceller() -> None:
            nonlocal busy
            await anyio.sleep(0.2)
            busy = active_rust_calls()
            marks["cancel"] = time.perf_counter()
            scope.cancel()

        async with anyio.create_task_group() as tg:
            tg.start_soon(canceller)
            with scope:
                await (cat("/dev/zero") | cat() | wc("-c")).run()
            returned = time.perf_counter()
            while active_rust_calls():
                time.sleep(0.0002)  # worker threads run on their own
            idle = time.perf_counter()
        return returned - marks["cancel"], idle - marks["cancel"], busy

    for loop in loops:
        for backend in backends:
            returns: list[float] = []
            idles: list[float] = []
            busy_seen: list[int] = []
            for _ in range(rounds):
                use_backend(backend)
                gc.collect()
                ret, idle, busy = loop_run(loop, once)
                returns.append(ret)
                idles.append(idle)
                busy_seen.append(busy)
            log(
                f"  {loop}/{backend}: cancel->return median {fmt_time(median(returns))}"
                f" max {fmt_time(max(returns))}; cancel->no Rust call median"
                f" {fmt_time(median(idles))}; Rust calls at cancel {busy_seen}"
            )
            is_rust = backend == "rust"
            rows.append(
                Row(
                    scenario="cancel",
                    label=f"{loop}/{backend} cancel->return",
                    unit="s",
                    samples=returns,
                    target=f"<= {TARGET_CANCEL * 1e3:.0f} ms (max)" if is_rust else "(info)",
                    ok=max(returns) <= TARGET_CANCEL if is_rust else None,
                    extra={"loop": loop, "backend": backend, "rust_calls_at_cancel": busy_seen},
                )
            )
            if is_rust:
                rows.append(
                    Row(
                        scenario="cancel",
                        label=f"{loop}/{backend} cancel->0 Rust calls",
                        unit="s",
                        samples=idles,
                        target=f"<= {TARGET_CANCEL * 1e3:.0f} ms (max)",
                        ok=max(idles) <= TARGET_CANCEL,
                        extra={"loop": loop, "backend": backend},
                    )
                )
    return rows


def run(payloads: Payloads, quick: bool) -> list[Row]:
    if "rust" not in BACKENDS:  # there is no Rust pump to cancel
        return []
    if quick:
        return bench_cancel(3, backends=("rust",))
    return bench_cancel(10)
