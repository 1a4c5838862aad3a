"""What a run prints and keeps: the table on stdout, the targets met, the JSON file."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import cuprum
from benchmarks.harness import ROOT, TARGET_TRIO, MiB, Row, fmt_rate, fmt_time, median
from benchmarks.scenarios import SCENARIOS
from cuprum._backend import extension_available, splice_available


def mark(ok: bool | None) -> str:
    return "" if ok is None else ("✓" if ok else "✗")


def table(rows: list[Row]) -> str:
    out: list[str] = []
    for scenario, title in ((s.name, s.title) for s in SCENARIOS):
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
            f"  {'run':<40} {head_best:>14} {'median':>14} {'ref median':>14} {'ratio':>7}"
            f" {'cpu':>6}   target"
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
                note = f"  ({r.extra['vs_run_process']:.2f}x run_process"
                if "vs_python" in r.extra:
                    note += f", {r.extra['vs_python']:.2f}x python"
                note += ")"
            cpu = f"{r.cpu_ratio:.2f}x" if r.cpu_ratio is not None else ""
            out.append(
                f"  {r.label:<40} {best:>14} {med:>14} {refm:>14} {ratio:>7} {cpu:>6}"
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


def header(info: dict[str, Any], *, quick: bool, elapsed: float) -> str:
    engine = f"git {info['git_commit']}"
    if info["engine_modified_files"]:
        engine += f" + {len(info['engine_modified_files'])} uncommitted engine files"
    return (
        f"cuprum {info['cuprum']} ({engine}) — {'quick' if quick else 'full'} run,"
        f" {elapsed:.0f} s —"
        f" {info['nproc']} cores, {info['cpu']}, Linux {info['kernel']}, Python {info['python']}"
        f" (load avg {info['loadavg_start'][0]:.2f} -> {info['loadavg_end'][0]:.2f})"
    )


def write_json(
    out: Path,
    *,
    stamp: str,
    quick: bool,
    elapsed: float,
    info: dict[str, Any],
    applied: dict[str, Any],
    rows: list[Row],
    report: str,
) -> None:
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
