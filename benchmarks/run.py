#!/usr/bin/env python3
"""cuprum benchmark suite: ``make bench`` (full) and ``make bench-quick``.

Every figure is measured next to its reference in the same run, interleaved
(candidate, reference, candidate, reference, ...), repeated, and reported as
min and median with the ratio to the reference. Progress goes to stderr, the
table to stdout, and everything (samples included) to JSON in
``benchmarks/results/<timestamp>.json``.

How cuprum is timed: each sample is one fresh ``anyio.run`` (a new event
loop, new worker threads), and the clock runs inside the coroutine, around
the awaited call only, so loop start-up is not counted. Spawn latency is
timed per batch (one ``anyio.run`` for N spawns) and reported per spawn.
References are timed the same way (``subprocess.run`` around the call,
``anyio.run_process`` inside its own fresh loop). The stream backend is
switched with ``CUPRUM_STREAM_BACKEND`` and ``clear_backend_cache()``.

Ratios are ``reference time / candidate time`` (> 1: cuprum is faster),
taken as the median of the per-pair ratios (each candidate sample against
the reference sample measured right after it), which cancels out most of the
slow drift of a shared machine. Work never runs in parallel with other work
of this script (the machine has 2 cores).

Remote rows (section 7) start a private sshd on 127.0.0.1 with
``tests/remote_fixtures.run_sshd`` and connect to it with
``cuprum.remote.SSHHost`` (one ControlMaster per sample, its connect time
reported apart). They compare the same work with and without ``.on(host)``
and report remote / local; without ``/usr/sbin/sshd`` they are skipped with
the reason. No timing is asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gc
import hashlib
import importlib
import importlib.util
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

import cuprum
from cuprum import CAT, SHA256SUM, TRUE, WC, sh
from cuprum._backend import extension_available, splice_available
from cuprum._pump import active_rust_calls
from cuprum.streams import clear_backend_cache

MiB = 1 << 20
GiB = 1 << 30
ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
HAVE_UVLOOP = importlib.util.find_spec("uvloop") is not None
LOOPS = ("asyncio", "trio", *(("uvloop",) if HAVE_UVLOOP else ()))
BACKENDS = ("python", "rust") if extension_available() else ("python",)

# Targets (issue 7): the minimum of "reference time / candidate time".
TARGET_PIPE = {"rust": 1.0, "python": 0.7}  # 3 pumps vs sh -c
TARGET_TRIO = 0.9  # trio's ratio vs sh >= 0.9 x asyncio's
TARGET_CAPTURE = {"rust": 3.0, "python": 1.5}  # vs subprocess.run
TARGET_SPAWN = 1.0  # vs anyio.run_process on the same loop
TARGET_LINES = 2_000_000  # lines per second
TARGET_RSS = 32 * MiB  # peak RSS growth
TARGET_CANCEL = 0.100  # seconds


# --------------------------------------------------------------------------
# helpers


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def size_name(n: int) -> str:
    return f"{n // GiB} GiB" if n >= GiB else f"{n // MiB} MiB"


def loop_run(loop: str, fn: Callable[[], Any]) -> Any:
    """Run ``fn`` on a fresh event loop of kind ``loop``."""
    if loop == "uvloop":
        return anyio.run(fn, backend="asyncio", backend_options={"use_uvloop": True})
    return anyio.run(fn, backend=loop)


def use_backend(backend: str) -> None:
    os.environ["CUPRUM_STREAM_BACKEND"] = backend
    clear_backend_cache()


def mark(ok: bool | None) -> str:
    return "" if ok is None else ("✓" if ok else "✗")


def fmt_time(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.0f} µs"


def fmt_rate(value: float, unit: str) -> str:
    if unit == "MB/s":
        return f"{value:,.0f} MB/s"
    if unit == "lines/s":
        return f"{value / 1e6:.2f} M lines/s"
    return f"{value:.3g} {unit}"


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


class BenchError(RuntimeError):
    pass


def check(condition: bool, what: str) -> None:
    if not condition:
        raise BenchError(what)


# --------------------------------------------------------------------------
# interleaved measurement


@dataclass
class Item:
    """Something timed: ``fn()`` returns the seconds of one sample."""

    key: str
    label: str
    fn: Callable[[], float]
    samples: list[float] = field(default_factory=list)

    def sample(self) -> float:
        gc.collect()
        seconds = self.fn()
        self.samples.append(seconds)
        return seconds


@dataclass
class Pair:
    cand: Item
    ref: Item
    ratios: list[float] = field(default_factory=list)  # ref / cand, per round


def interleave(title: str, pairs: list[Pair], rounds: int) -> None:
    """Run every pair ``rounds`` times: candidate, then its reference.

    The order of the pairs rotates from round to round so that no
    candidate always runs first.
    """
    total = rounds * len(pairs)
    done = 0
    for r in range(rounds):
        shift = r % len(pairs)
        for pair in pairs[shift:] + pairs[:shift]:
            done += 1
            c = pair.cand.sample()
            f = pair.ref.sample()
            pair.ratios.append(f / c)
            log(
                f"  [{title} {done:>3}/{total}] {pair.cand.label:<34} {fmt_time(c):>9}"
                f"   {pair.ref.label:<28} {fmt_time(f):>9}   x{f / c:.2f}"
            )


# --------------------------------------------------------------------------
# results


@dataclass
class Row:
    """One line of the report."""

    scenario: str
    label: str
    unit: str  # "s", "MB/s", "lines/s", "bytes"
    samples: list[float]  # seconds per sample (or bytes for RSS)
    per: float = 1.0  # work per sample: bytes (MB/s), lines, or 1
    ref_label: str | None = None
    ref_samples: list[float] | None = None
    ratio: float | None = None  # median of paired ref/cand
    target: str = ""
    ok: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def value(self, seconds: float) -> float:
        if self.unit == "MB/s":
            return self.per / seconds / 1e6
        if self.unit == "lines/s":
            return self.per / seconds
        return seconds

    def as_json(self) -> dict[str, Any]:
        ref = self.ref_samples or []
        rated = bool(self.samples) and self.unit != "bytes"
        return {
            "scenario": self.scenario,
            "label": self.label,
            "unit": self.unit,
            "work_per_sample": self.per,
            "samples": self.samples,
            "min": min(self.samples) if self.samples else None,
            "median": median(self.samples) if self.samples else None,
            "best_value": self.value(min(self.samples)) if rated else None,
            "median_value": self.value(median(self.samples)) if rated else None,
            "reference": self.ref_label,
            "reference_samples": ref,
            "reference_min": min(ref) if ref else None,
            "reference_median": median(ref) if ref else None,
            "ratio_vs_reference": self.ratio,
            "target": self.target,
            "target_met": self.ok,
            **self.extra,
        }


def row_for(scenario: str, pair: Pair, unit: str, per: float, target: float | None) -> Row:
    ratio = median(pair.ratios)
    return Row(
        scenario=scenario,
        label=pair.cand.label,
        unit=unit,
        samples=list(pair.cand.samples),
        per=per,
        ref_label=pair.ref.label,
        ref_samples=[],  # filled with the reference samples paired with this one
        ratio=ratio,
        target=f">= {target:.1f}x" if target is not None else "",
        ok=None if target is None else ratio >= target,
    )


# --------------------------------------------------------------------------
# payloads


class Payloads:
    """Temporary files of random bytes (and one of short lines), made once."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="cuprum-bench-"))
        self._files: dict[str, Path] = {}

    def random(self, size: int) -> Path:
        key = f"random-{size}"
        if key not in self._files:
            path = self.dir / key
            log(f"  generating {size_name(size)} of random bytes in {path}")
            with open(path, "wb") as out:
                for offset in range(0, size, 16 * MiB):
                    out.write(os.urandom(min(16 * MiB, size - offset)))
            self._warm(path)
            self._files[key] = path
        return self._files[key]

    def lines(self, count: int) -> Path:
        key = f"lines-{count}"
        if key not in self._files:
            path = self.dir / key
            path.write_bytes(("\n".join(map(str, range(count))) + "\n").encode())
            self._warm(path)
            self._files[key] = path
        return self._files[key]

    @staticmethod
    def _warm(path: Path) -> None:
        subprocess.run(["cat", str(path)], stdout=subprocess.DEVNULL, check=True)

    def cleanup(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


# --------------------------------------------------------------------------
# 1. pipeline throughput


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


# --------------------------------------------------------------------------
# 2. capture throughput


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

    def subprocess_fn() -> float:
        start = time.perf_counter()
        proc = subprocess.run(["cat", path], capture_output=True, check=True)
        seconds = time.perf_counter() - start
        check(len(proc.stdout) == size, "bad subprocess.run capture")
        return seconds

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
        async def go() -> float:
            cmd = sh.make(CAT)(path)
            start = time.perf_counter()
            result = await cmd.run()
            seconds = time.perf_counter() - start
            check(len(result.stdout_bytes or b"") == size, "bad cuprum capture")
            return seconds

        def fn() -> float:
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
    for pair in pairs:
        _, loop, *rest = pair.cand.key.split("/")
        backend = rest[0] if rest else None
        target = TARGET_CAPTURE[backend] if backend else None
        row = row_for("capture", pair, "MB/s", size, target)
        row.label = f"{size_name(size)} {pair.cand.label}"
        row.ref_samples = list(ref.samples)
        row.extra = {"payload": size, "loop": loop, "backend": backend}
        if backend is None:
            run_process_median[loop] = median(pair.cand.samples)
        else:
            row.extra["vs_run_process"] = run_process_median[loop] / median(pair.cand.samples)
        rows.append(row)
    return rows


# --------------------------------------------------------------------------
# 3. spawn + wait latency


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

    def subprocess_fn() -> float:
        def one(_: object = None) -> None:
            subprocess.run([true], capture_output=True, check=True)

        start = time.perf_counter()
        if width == 1:
            for _ in range(count):
                one()
        else:
            list(pool.map(one, range(count)))
        return (time.perf_counter() - start) / count

    async def rp_one() -> None:
        await anyio.run_process([true])

    async def rp_go() -> float:
        start = time.perf_counter()
        await spread(rp_one, count, width)
        return (time.perf_counter() - start) / count

    def cu_fn(backend: str) -> float:
        cmd = sh.make(TRUE)()

        async def one() -> None:
            result = await cmd.run()
            check(result.ok, "true failed")

        async def go() -> float:
            start = time.perf_counter()
            await spread(one, count, width)
            return (time.perf_counter() - start) / count

        use_backend(backend)
        return loop_run(loop, go)

    items = {
        "ref": Item(
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
                ref = items["ref"]
                pairs = [Pair(items[b], ref) for b in backends]
                pairs.append(Pair(items["subprocess"], ref))
                interleave(f"spawn {mode} {loop}", pairs, rounds)
                for pair in pairs:
                    is_cuprum = pair.cand.key.startswith("cuprum")
                    row = row_for("spawn", pair, "s", 1, TARGET_SPAWN if is_cuprum else None)
                    row.label = f"{mode} {pair.cand.label}" + ("" if is_cuprum else f" ({loop})")
                    row.ref_samples = list(ref.samples)
                    row.extra = {"loop": loop, "concurrency": width, "batch": count}
                    if not is_cuprum:
                        row.target = "(info)"
                    rows.append(row)
    return rows


# --------------------------------------------------------------------------
# 4. line events


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


# --------------------------------------------------------------------------
# 5. peak RSS


RSS_CHILD = textwrap.dedent(
    """
    import gc, json, os, sys, time
    import anyio
    from cuprum import CAT, WC, sh

    path, pumps, loop = sys.argv[1], int(sys.argv[2]), sys.argv[3]

    def status(name):
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(name + ":"):
                    return int(line.split()[1]) * 1024
        return -1

    def pipeline(p):
        cat, wc = sh.make(CAT), sh.make(WC)
        pipe = cat(p)
        for _ in range(pumps - 1):
            pipe = pipe | cat()
        return pipe | wc("-c")

    async def run(p):
        start = time.perf_counter()
        result = await pipeline(p).run(capture=False)
        assert result.ok, result
        return time.perf_counter() - start

    kw = {"backend": "asyncio", "backend_options": {"use_uvloop": True}} if loop == "uvloop" \\
        else {"backend": loop}
    anyio.run(run, "/etc/hostname", **kw)  # warm up: imports, thread pools
    gc.collect()
    try:  # reset the high-water mark to the current RSS (Linux >= 4.0)
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        reset = True
    except OSError:
        reset = False
    before_hwm, before_rss = status("VmHWM"), status("VmRSS")
    seconds = anyio.run(run, path, **kw)
    after_hwm = status("VmHWM")
    print(json.dumps({"before_hwm": before_hwm, "before_rss": before_rss,
                      "after_hwm": after_hwm, "seconds": seconds, "reset": reset}))
    """
)


def bench_rss(
    payloads: Payloads, size: int, pumps: int, loops: tuple[str, ...] = LOOPS
) -> list[Row]:
    path = str(payloads.random(size))
    log(f"\npeak RSS growth: {pumps}-pump pipeline of {size_name(size)}, capture=False")
    rows = []
    for loop in loops:
        for backend in BACKENDS:
            env = {**os.environ, "CUPRUM_STREAM_BACKEND": backend}
            proc = subprocess.run(
                [sys.executable, "-c", RSS_CHILD, path, str(pumps), loop],
                capture_output=True,
                text=True,
                env=env,
                check=False,
            )
            check(proc.returncode == 0, f"RSS child failed: {proc.stderr}")
            data = json.loads(proc.stdout)
            base = data["before_hwm"] if data["reset"] else data["before_rss"]
            growth = data["after_hwm"] - base
            log(
                f"  {loop}/{backend}: VmHWM {base / MiB:.1f} -> {data['after_hwm'] / MiB:.1f} MiB"
                f" (+{growth / MiB:.1f} MiB), {size / data['seconds'] / 1e6:,.0f} MB/s"
            )
            rows.append(
                Row(
                    scenario="rss",
                    label=f"{size_name(size)} {pumps}p {loop}/{backend}",
                    unit="bytes",
                    samples=[float(growth)],
                    target=f"< {TARGET_RSS // MiB} MiB",
                    ok=growth < TARGET_RSS,
                    extra={
                        **data,
                        "payload": size,
                        "pumps": pumps,
                        "loop": loop,
                        "backend": backend,
                    },
                )
            )
    return rows


# --------------------------------------------------------------------------
# 6. cancellation of a Rust pump


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


# --------------------------------------------------------------------------
# 7. remote hosts on a loopback sshd


REMOTE_LOOPS = ("asyncio", "trio")
# What sshd puts in a session's environment (besides SSH_*): the login shell
# sees the same, so `bash` reads ~/.bashrc here exactly as it does under sshd.
SSHD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def p90(values: list[float]) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=10, method="inclusive")[8]


def flat(batches: list[list[float]]) -> list[float]:
    return [seconds for batch in batches for seconds in batch]


@dataclass
class Versus:
    """A remote run and the same run done locally, sampled alternately.

    A sample is a list of seconds: one per command (latency) or one per run
    (throughput).
    """

    label: str
    remote: Callable[[], list[float]]
    local: Callable[[], list[float]]
    remote_samples: list[list[float]] = field(default_factory=list)
    local_samples: list[list[float]] = field(default_factory=list)

    def time_ratios(self) -> list[float]:
        """Remote / local time, per round (medians of the two samples)."""
        return [
            median(r) / median(lo)
            for r, lo in zip(self.remote_samples, self.local_samples, strict=True)
        ]


def alternate(title: str, pairs: list[Versus], rounds: int) -> None:
    """Like `interleave`: remote, then local, rotating the pairs every round."""
    total = rounds * len(pairs)
    done = 0
    for r in range(rounds):
        shift = r % len(pairs)
        for pair in pairs[shift:] + pairs[:shift]:
            done += 1
            gc.collect()
            remote = pair.remote()
            gc.collect()
            local = pair.local()
            pair.remote_samples.append(remote)
            pair.local_samples.append(local)
            rem, loc = median(remote), median(local)
            log(
                f"  [{title} {done:>3}/{total}] {pair.label:<34} remote {fmt_time(rem):>9}"
                f"   local {fmt_time(loc):>9}   time x{rem / loc:.2f}"
            )


def remote_unavailable() -> str | None:
    """Why the remote rows cannot run here (None: they can)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    try:
        from tests import remote_fixtures
    except ImportError as exc:  # pytest missing: not the dev environment
        return f"cannot import tests/remote_fixtures.py ({exc})"
    return remote_fixtures.missing_reason()


def login_shell_versus(count: int) -> Versus:
    """The user's login shell running `true` as sshd starts it, vs without rc files.

    sshd runs a command as ``<login shell> -c <command>`` with ``SSH_CLIENT``
    set, and bash then reads ``~/.bashrc`` even though it is not
    interactive; without ``SSH_CLIENT`` it reads nothing.
    """
    import pwd

    entry = pwd.getpwuid(os.getuid())
    shell = entry.pw_shell or "/bin/sh"
    base = {
        "HOME": entry.pw_dir,
        "USER": entry.pw_name,
        "LOGNAME": entry.pw_name,
        "SHELL": shell,
        "PATH": SSHD_PATH,
    }
    as_sshd = {
        **base,
        "SSH_CLIENT": "127.0.0.1 50000 22",
        "SSH_CONNECTION": "127.0.0.1 50000 127.0.0.1 22",
    }

    def runs(env: dict[str, str]) -> list[float]:
        times: list[float] = []
        for _ in range(count):
            start = time.perf_counter()
            subprocess.run(
                [shell, "-c", "true"],
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                check=True,
                cwd=entry.pw_dir,
            )
            times.append(time.perf_counter() - start)
        return times

    name = Path(shell).name
    return Versus(f"login shell: {name} -c true", lambda: runs(as_sshd), lambda: runs(base))


def bench_remote(
    payloads: Payloads,
    *,
    count: int,
    latency_rounds: int,
    size: int,
    trip_rounds: int,
    shell_runs: int,
    loops: tuple[str, ...] = REMOTE_LOOPS,
    backends: tuple[str, ...] = BACKENDS,
) -> list[Row]:
    """Latency of `true` and a round trip through remote `cat`, each vs local.

    Every remote sample is a fresh ``anyio.run`` that connects an `SSHHost`
    (its own ControlMaster, timed apart as "connect") and then times the
    commands only. The local sample is the same work without ``.on(host)``.
    """
    log(f"\nremote: loopback sshd, `true` x {count} per sample and {size_name(size)} round trip")
    reason = remote_unavailable()
    if reason is not None:
        log(f"  skipped: {reason}")
        return [Row("remote", "skipped", "s", [], extra={"kind": "skipped", "reason": reason})]
    from cuprum.remote import SSHHost
    from tests.remote_fixtures import ALIAS, run_sshd

    path = payloads.random(size)
    rows: list[Row] = []
    connects: list[float] = []
    with contextlib.ExitStack() as stack:
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="cuprum-sshd-")))
        try:
            server = stack.enter_context(run_sshd(directory))
        except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
            reason = f"the loopback sshd did not start: {exc}"
            log(f"  skipped: {reason}")
            return [Row("remote", "skipped", "s", [], extra={"kind": "skipped", "reason": reason})]
        log(f"  sshd on 127.0.0.1:{server.port} (pid {server.pid}), config {server.config}")

        def on_host(
            loop: str, backend: str, body: Callable[[SSHHost | None], Awaitable[list[float]]]
        ) -> list[float]:
            async def go() -> list[float]:
                start = time.perf_counter()
                async with SSHHost(ALIAS, config_file=server.config) as host:
                    connects.append(time.perf_counter() - start)
                    return await body(host)

            use_backend(backend)
            return loop_run(loop, go)

        def local(
            loop: str, backend: str, body: Callable[[None], Awaitable[list[float]]]
        ) -> list[float]:
            use_backend(backend)
            return loop_run(loop, lambda: body(None))

        async def true_batch(host: SSHHost | None) -> list[float]:
            cmd = sh.make(TRUE)()
            cmd = cmd if host is None else cmd.on(host)
            check((await cmd.run()).ok, "true failed")  # warm-up, not timed
            times: list[float] = []
            for _ in range(count):
                start = time.perf_counter()
                result = await cmd.run()
                times.append(time.perf_counter() - start)
                check(result.ok, f"true failed: {result!r}")
            return times

        def round_trip(host: SSHHost | None, last: cuprum.SafeCmd) -> cuprum.Pipeline:
            cat = sh.make(CAT)
            return cat(str(path)) | (cat() if host is None else cat().on(host)) | last

        async def trip(host: SSHHost | None) -> list[float]:
            pipe = round_trip(host, sh.make(WC)("-c"))
            start = time.perf_counter()
            result = await pipe.run()
            seconds = time.perf_counter() - start
            check(result.ok and int(result.stdout or "-1") == size, f"bad round trip {result!r}")
            return [seconds]

        # Once, untimed: the bytes come back unchanged.
        async def digest(host: SSHHost | None) -> list[float]:
            result = await round_trip(host, sh.make(SHA256SUM)()).run(check=True)
            check((result.stdout or "").split()[0] == want, "round trip changed the bytes")
            return []

        sha = hashlib.sha256()
        with open(path, "rb") as f:
            while chunk := f.read(4 * MiB):
                sha.update(chunk)
        want = sha.hexdigest()
        on_host("asyncio", BACKENDS[-1], digest)
        log(f"  {size_name(size)} came back unchanged (sha256 {want[:16]}...)")
        connects.clear()

        variants = [(loop, backend) for loop in loops for backend in backends]

        def per_variant(
            label: str, work: Callable[[SSHHost | None], Awaitable[list[float]]]
        ) -> list[Versus]:
            """One remote-vs-local pair of `work` per loop x backend."""
            return [
                Versus(
                    f"{label} {lp}/{b}",
                    lambda lp=lp, b=b: on_host(lp, b, work),
                    lambda lp=lp, b=b: local(lp, b, work),
                )
                for lp, b in variants
            ]

        latency = per_variant("`true`", true_batch)
        shell = login_shell_versus(shell_runs)
        alternate("remote true", [*latency, shell], latency_rounds)
        trips = per_variant(f"{size_name(size)} round trip", trip)
        alternate(f"remote {size_name(size)}", trips, trip_rounds)

    for pair, (loop, backend) in zip(latency, variants, strict=True):
        remote, local_times = flat(pair.remote_samples), flat(pair.local_samples)
        rows.append(
            Row(
                scenario="remote",
                label=f"`true` sequential {loop}/{backend}",
                unit="s",
                samples=remote,
                ref_label="same command, local",
                ref_samples=local_times,
                ratio=median(pair.time_ratios()),
                extra={
                    "kind": "latency",
                    "ratio_is": "remote / local (median time, per round)",
                    "p90": p90(remote),
                    "ref_p90": p90(local_times),
                    "commands_per_sample": count,
                    "loop": loop,
                    "backend": backend,
                },
            )
        )
    shell_with, shell_without = flat(shell.remote_samples), flat(shell.local_samples)
    rows.append(
        Row(
            scenario="remote",
            label=shell.label + " (as sshd)",
            unit="s",
            samples=shell_with,
            ref_label="same without SSH_CLIENT (no rc file)",
            ref_samples=shell_without,
            ratio=median(shell.time_ratios()),
            target="(info)",
            extra={
                "kind": "shell",
                "ratio_is": "as sshd / without rc files",
                "p90": p90(shell_with),
                "ref_p90": p90(shell_without),
            },
        )
    )
    rows.append(
        Row(
            scenario="remote",
            label="SSHHost connect (master + shell probe)",
            unit="s",
            samples=list(connects),
            target="(info)",
            extra={"kind": "connect", "p90": p90(connects)},
        )
    )
    for pair, (loop, backend) in zip(trips, variants, strict=True):
        rows.append(
            Row(
                scenario="remote",
                label=f"{size_name(size)} round trip {loop}/{backend}",
                unit="MB/s",
                samples=flat(pair.remote_samples),
                per=size,
                ref_label="cat F | cat | wc -c, local",
                ref_samples=flat(pair.local_samples),
                # MB/s remote / MB/s local = local time / remote time.
                ratio=median([1 / x for x in pair.time_ratios()]),
                extra={
                    "kind": "throughput",
                    "ratio_is": "remote MB/s / local MB/s (per round)",
                    "payload": size,
                    "loop": loop,
                    "backend": backend,
                },
            )
        )
    return rows


# --------------------------------------------------------------------------
# report


def table(rows: list[Row]) -> str:
    out: list[str] = []
    sections = {
        "pipeline": "1. Pipeline throughput (`cat F | cat ... | wc -c`) vs the same `sh -c`",
        "capture": "2. Capture throughput (`cat F`, capture=True) vs subprocess.run",
        "spawn": "3. Spawn+wait latency of `true` (per spawn) vs anyio.run_process, same loop",
        "lines": "4. Line events, no-op listener (ref: subprocess.run + splitlines)",
        "rss": "5. Peak RSS growth during a pipeline, capture=False",
        "cancel": "6. Cancelled pump: time from cancel",
        "remote": "7. Remote host (loopback sshd, cuprum.remote.SSHHost) vs the same run locally",
    }
    for scenario, title in sections.items():
        group = [r for r in rows if r.scenario == scenario]
        if not group:
            continue
        out.append(f"\n{title}")
        if scenario == "rss":
            out.append(f"  {'run':<30} {'VmHWM before':>13} {'growth':>12}   target")
            for r in group:
                base = r.extra["before_hwm"] if r.extra["reset"] else r.extra["before_rss"]
                out.append(
                    f"  {r.label:<30} {base / MiB:>9.1f} MiB {r.samples[0] / MiB:>8.2f} MiB"
                    f"   {r.target} {mark(r.ok)}"
                )
            continue
        if scenario == "remote":
            out.extend(remote_table(group))
            continue
        if scenario == "cancel":
            out.append(f"  {'run':<36} {'min':>9} {'median':>9} {'max':>9}   target")
            for r in group:
                out.append(
                    f"  {r.label:<36} {fmt_time(min(r.samples)):>9}"
                    f" {fmt_time(median(r.samples)):>9} {fmt_time(max(r.samples)):>9}"
                    f"   {r.target} {mark(r.ok)}"
                )
            continue
        timed = scenario == "spawn"
        head_best = "min" if timed else "best"
        out.append(
            f"  {'run':<40} {head_best:>14} {'median':>14} {'ref median':>14} {'ratio':>7}   target"
        )
        for r in group:
            if timed:
                best, med = fmt_time(min(r.samples)), fmt_time(median(r.samples))
                refm = fmt_time(median(r.ref_samples or [float("nan")]))
            else:
                best = fmt_rate(r.value(min(r.samples)), r.unit)
                med = fmt_rate(r.value(median(r.samples)), r.unit)
                refm = fmt_rate(r.value(median(r.ref_samples or [float("nan")])), r.unit)
            ratio = f"{r.ratio:.2f}x" if r.ratio is not None else ""
            note = ""
            if "vs_asyncio" in r.extra:
                rel = r.extra["vs_asyncio"]
                note = f"  ({rel:.2f}x asyncio"
                if "trio_ok" in r.extra and r.extra.get("pumps") == 3:
                    note += f", >= {TARGET_TRIO:.1f} {mark(r.extra['trio_ok'])}"
                note += ")"
            if "vs_run_process" in r.extra:
                note = f"  ({r.extra['vs_run_process']:.2f}x run_process)"
            out.append(
                f"  {r.label:<40} {best:>14} {med:>14} {refm:>14} {ratio:>7}"
                f"   {r.target} {mark(r.ok)}{note}"
            )
    return "\n".join(out)


def remote_table(group: list[Row]) -> list[str]:
    """Section 7: latency (median, p90) and round-trip throughput, remote / local."""
    out: list[str] = []
    for r in group:
        if r.extra["kind"] == "skipped":
            out.append(f"  skipped: {r.extra['reason']}")
    timed = [r for r in group if r.extra["kind"] in ("latency", "shell", "connect")]
    if timed:
        out.append(
            f"  {'run (per command)':<40} {'median':>10} {'p90':>10}"
            f" {'local median':>13} {'local p90':>10} {'remote/local':>13}"
        )
    for r in timed:
        ref = r.ref_samples or []
        local = (
            f"{fmt_time(median(ref)):>13} {fmt_time(r.extra['ref_p90']):>10}"
            if ref
            else f"{'':>13} {'':>10}"
        )
        ratio = f"{r.ratio:,.1f}x" if r.ratio is not None else ""
        out.append(
            f"  {r.label:<40} {fmt_time(median(r.samples)):>10} {fmt_time(r.extra['p90']):>10}"
            f" {local} {ratio:>13}   {r.target}".rstrip()
        )
    if any(r.extra["kind"] == "shell" for r in timed):
        out.append(
            "  (login shell row: `<shell> -c true` with sshd's SSH_CLIENT, which makes bash read"
            " ~/.bashrc; 'local' is the same without it)"
        )
    trips = [r for r in group if r.extra["kind"] == "throughput"]
    if trips:
        out.append(
            f"  {'run (written and read back)':<40} {'best':>10} {'median':>10}"
            f" {'local median':>13} {'':>10} {'remote/local':>13}"
        )
    for r in trips:
        local = fmt_rate(r.value(median(r.ref_samples or [float("nan")])), r.unit)
        ratio = f"{r.ratio:.2f}x" if r.ratio is not None else ""
        out.append(
            f"  {r.label:<40} {fmt_rate(r.value(min(r.samples)), r.unit):>10}"
            f" {fmt_rate(r.value(median(r.samples)), r.unit):>10} {local:>13} {'':>10}"
            f" {ratio:>13}"
        )
    return out


def summary(rows: list[Row]) -> str:
    checks = [r for r in rows if r.ok is not None]
    trio = [r for r in rows if "trio_ok" in r.extra and r.extra.get("pumps") == 3]
    passed = sum(r.ok is True for r in checks) + sum(r.extra["trio_ok"] for r in trio)
    total = len(checks) + len(trio)
    lines = [f"\nTargets met: {passed}/{total}"]
    for r in checks:
        if not r.ok:
            lines.append(f"  ✗ {r.scenario}: {r.label} ({r.target})")
    for r in trio:
        if not r.extra["trio_ok"]:
            lines.append(
                f"  ✗ pipeline: {r.label} is {r.extra['vs_asyncio']:.2f}x asyncio (trio within 10%)"
            )
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    cpu = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break

    def version(name: str) -> str | None:
        try:
            from importlib.metadata import version as v

            return v(name)
        except Exception:
            return None

    pipe_max = None
    with contextlib.suppress(OSError):
        pipe_max = int(Path("/proc/sys/fs/pipe-max-size").read_text())

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", *args], capture_output=True, text=True, check=True, cwd=ROOT
            )
        except (OSError, subprocess.CalledProcessError):
            return None
        return out.stdout.rstrip()

    dirty = git("status", "--porcelain", "--", "cuprum", "crates")
    return {
        "git_commit": git("rev-parse", "--short", "HEAD"),
        "engine_modified_files": dirty.splitlines() if dirty else [],
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "cuprum": cuprum.__version__,
        "anyio": version("anyio"),
        "trio": version("trio"),
        "uvloop": version("uvloop"),
        "rust_extension": extension_available(),
        "splice": splice_available(),
        "pipe_max_size": pipe_max,
        "loadavg_start": os.getloadavg(),
    }


@contextlib.contextmanager
def patched(specs: list[str]) -> Iterator[dict[str, Any]]:
    """Apply ``module.NAME=value`` overrides (prototyping engine constants)."""
    applied: dict[str, Any] = {}
    undo: list[tuple[Any, str, Any]] = []
    for spec in specs:
        target, _, raw = spec.partition("=")
        module_name, _, name = target.rpartition(".")
        module = importlib.import_module(module_name)
        value = int(raw, 0) if raw.lstrip("-").isdigit() or raw.startswith("0x") else raw
        if raw == "None":
            value = None
        undo.append((module, name, getattr(module, name)))
        setattr(module, name, value)
        applied[target] = value
    try:
        yield applied
    finally:
        for module, name, old in reversed(undo):
            setattr(module, name, old)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run (under a minute)")
    parser.add_argument(
        "--only",
        default="pipeline,capture,spawn,lines,rss,cancel,remote",
        help="comma-separated scenarios to run",
    )
    parser.add_argument(
        "--patch",
        action="append",
        default=[],
        metavar="MODULE.NAME=VALUE",
        help="override an engine constant, e.g. cuprum._pump.PUMP_CHUNK=1048576",
    )
    parser.add_argument("--out", type=Path, help="JSON path (default benchmarks/results/)")
    args = parser.parse_args(argv)
    only = set(args.only.split(","))
    quick = args.quick

    info = machine()
    log(
        f"cuprum {info['cuprum']} benchmarks ({'quick' if quick else 'full'}):"
        f" {info['nproc']} cores, {info['cpu']}, Linux {info['kernel']},"
        f" Python {info['python']}; loops {', '.join(LOOPS)}; backends {', '.join(BACKENDS)}"
    )
    started = time.perf_counter()
    payloads = Payloads()
    rows: list[Row] = []
    old_backend = os.environ.get("CUPRUM_STREAM_BACKEND")
    applied: dict[str, Any] = {}
    try:
        with patched(args.patch) as applied:
            if applied:
                log(f"patched: {applied}")
            # Quick: the target pipeline and smaller payloads, fewer rounds.
            if "pipeline" in only:
                if quick:
                    rows += bench_pipelines(payloads, [64 * MiB], [3], lambda _: 3)
                else:
                    rows += bench_pipelines(
                        payloads,
                        [MiB, 64 * MiB, GiB],
                        [1, 2, 3, 4],
                        lambda size: {MiB: 15, 64 * MiB: 9}.get(size, 4),
                    )
            if "capture" in only:
                if quick:
                    rows += bench_capture(payloads, 64 * MiB, 2, loops=("asyncio", "trio"))
                else:
                    rows += bench_capture(payloads, 256 * MiB, 3)
            if "spawn" in only:
                rows += bench_spawn(20 if quick else 100, 2 if quick else 5, 8)
            if "lines" in only:
                if quick:  # with a listener both backends read lines in Python
                    rows += bench_lines(payloads, 100_000, 2, backends=BACKENDS[-1:])
                else:
                    rows += bench_lines(payloads, 1_000_000, 3)
            if "rss" in only:
                if quick:
                    rows += bench_rss(payloads, 256 * MiB, 3, ("asyncio",))
                else:
                    rows += bench_rss(payloads, GiB, 3)
            if "cancel" in only and "rust" in BACKENDS:
                if quick:
                    rows += bench_cancel(3, backends=("rust",))
                else:
                    rows += bench_cancel(10)
            if "remote" in only:
                if quick:
                    rows += bench_remote(
                        payloads,
                        count=8,
                        latency_rounds=1,
                        size=64 * MiB,
                        trip_rounds=1,
                        shell_runs=3,
                        backends=BACKENDS[-1:],
                    )
                else:
                    rows += bench_remote(
                        payloads,
                        count=10,
                        latency_rounds=4,
                        size=256 * MiB,
                        trip_rounds=3,
                        shell_runs=10,
                    )
    finally:
        payloads.cleanup()
        if old_backend is None:
            os.environ.pop("CUPRUM_STREAM_BACKEND", None)
        else:
            os.environ["CUPRUM_STREAM_BACKEND"] = old_backend
    elapsed = time.perf_counter() - started
    info["loadavg_end"] = os.getloadavg()

    engine = f"git {info['git_commit']}"
    if info["engine_modified_files"]:
        engine += f" + {len(info['engine_modified_files'])} uncommitted engine files"
    header = (
        f"cuprum {info['cuprum']} ({engine}) — {'quick' if quick else 'full'} run,"
        f" {elapsed:.0f} s —"
        f" {info['nproc']} cores, {info['cpu']}, Linux {info['kernel']}, Python {info['python']}"
        f" (load avg {info['loadavg_start'][0]:.2f} -> {info['loadavg_end'][0]:.2f})"
    )
    report = header + "\n" + table(rows) + "\n" + summary(rows)
    print(report)

    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    out = args.out or RESULTS / f"{stamp}{'-quick' if quick else ''}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "when": stamp,
                "mode": "quick" if quick else "full",
                "elapsed_seconds": elapsed,
                "machine": info,
                "patches": {k: repr(v) for k, v in dict(applied).items()},
                "rows": [r.as_json() for r in rows],
                "table": report,
            },
            indent=1,
        )
    )
    log(f"\nJSON written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
