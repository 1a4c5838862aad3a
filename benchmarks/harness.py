"""How every figure is measured: fresh loops, interleaved samples, medians, report rows.

`interleave` runs candidate and reference one after the other, round after
round (`alternate` does the same for remote against local work); `Row` is
one line of the report and of the JSON.
"""

from __future__ import annotations

import gc
import importlib.util
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from cuprum._backend import extension_available
from cuprum.streams import clear_backend_cache

MiB = 1 << 20
GiB = 1 << 30
ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
HAVE_UVLOOP = importlib.util.find_spec("uvloop") is not None
LOOPS = ("asyncio", "trio", *(("uvloop",) if HAVE_UVLOOP else ()))
BACKENDS = ("python", "rust") if extension_available() else ("python",)

# Targets: the minimum of "reference time / candidate time" (issues 7 and 16).
TARGET_PIPE = {"rust": 1.0, "python": 0.7}  # 3 pumps vs sh -c (issue 7)
TARGET_TRIO = 0.9  # trio's ratio vs sh >= 0.9 x asyncio's
TARGET_SHAPE = 1.0  # pipeline shapes: wall vs sh -c (issue 16)
TARGET_SHAPE_CPU = 1.1  # ... and at most this much of the shell's CPU
TARGET_CAPTURE = 1.5  # vs subprocess.run, both backends (and rust >= python)
TARGET_SPAWN = 0.9  # vs subprocess.run
TARGET_LINES = 2_000_000  # line events per second
TARGET_LINES_ITER = 0.9  # lines() vs a bare async generator over the same lines
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


def p90(values: list[float]) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=10, method="inclusive")[8]


def flat(batches: list[list[float]]) -> list[float]:
    return [seconds for batch in batches for seconds in batch]


class BenchError(RuntimeError):
    pass


def check(condition: bool, what: str) -> None:
    if not condition:
        raise BenchError(what)


# --------------------------------------------------------------------------
# interleaved measurement


def cpu_now() -> float:
    """CPU seconds (user + system) of this process and of its reaped children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


class Timer:
    """Wall and CPU time of a region: ``t = Timer()`` ... ``t.stop()``."""

    def __init__(self) -> None:
        self.wall = time.perf_counter()
        self.cpu = cpu_now()

    def stop(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall, cpu_now() - self.cpu


@dataclass
class Item:
    """Something timed: ``fn()`` returns the seconds of one sample.

    Or ``(seconds, cpu_seconds)`` from a `Timer` around the timed region;
    otherwise the CPU time (self + children) is taken around the call.
    """

    key: str
    label: str
    fn: Callable[[], float | tuple[float, float]]
    samples: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def sample(self) -> float:
        gc.collect()
        before = cpu_now()
        out = self.fn()
        if isinstance(out, tuple):
            seconds, cpu = out
        else:
            seconds, cpu = out, cpu_now() - before
        self.samples.append(seconds)
        self.cpu.append(cpu)
        return seconds


@dataclass
class Pair:
    cand: Item
    ref: Item
    ratios: list[float] = field(default_factory=list)  # ref / cand, per round
    cpu_ratios: list[float] = field(default_factory=list)  # cand CPU / ref CPU, per round


def interleave(title: str, pairs: list[Pair], rounds: int) -> None:
    """Run every pair ``rounds`` times: candidate, then its reference.

    Every item runs once untimed first. The order of the pairs rotates from
    round to round so that no candidate always runs first.
    """
    total = rounds * len(pairs)
    done = 0
    # One untimed run of each first: the first run of a loop or backend in
    # this process pays its imports (trio's is about 0.2 s).
    warmed: set[int] = set()
    for pair in pairs:
        for item in (pair.cand, pair.ref):
            if id(item) not in warmed:
                warmed.add(id(item))
                item.fn()
    for r in range(rounds):
        shift = r % len(pairs)
        for pair in pairs[shift:] + pairs[:shift]:
            done += 1
            c = pair.cand.sample()
            f = pair.ref.sample()
            pair.ratios.append(f / c)
            ref_cpu = pair.ref.cpu[-1]
            cpu = pair.cand.cpu[-1] / ref_cpu if ref_cpu > 0 else float("nan")
            pair.cpu_ratios.append(cpu)
            log(
                f"  [{title} {done:>3}/{total}] {pair.cand.label:<34} {fmt_time(c):>9}"
                f"   {pair.ref.label:<28} {fmt_time(f):>9}   x{f / c:.2f} cpu x{cpu:.2f}"
            )


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
    cpu_ratio: float | None = None  # median of paired cand CPU / ref CPU (self + children)
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
            "cpu_ratio_vs_reference": self.cpu_ratio,
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
        cpu_ratio=median(pair.cpu_ratios) if pair.cpu_ratios else None,
        target=f">= {target:.1f}x" if target is not None else "",
        ok=None if target is None else ratio >= target,
    )
