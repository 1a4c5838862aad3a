#!/usr/bin/env python3
"""The issue 16 summary of a benchmark run, as Markdown for docs/performance.md.

    .venv/bin/python benchmarks/summary.py [benchmarks/results/<stamp>.json]

Without an argument, the newest JSON in benchmarks/results/ is read. Prints
the run's header line, then one table row per target: the range of the
ratios over loops and backends, and how many rows met it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
Row = dict[str, Any]
SHAPES = {
    "cat3": "cat F | cat | cat | wc -c",
    "grep": "cat LOG | grep -v DEBUG | grep -c ERROR",
    "yes": "yes | head -c N | wc -c",
    "seq": "seq N | cat | tail -n 1",
}


def span(values: list[float], fmt: str = "{:.2f}x") -> str:
    if not values:
        return "-"
    lo, hi = min(values), max(values)
    return fmt.format(lo) if abs(hi - lo) < 5e-3 else f"{fmt.format(lo)} to {fmt.format(hi)}"


def target_rows(rows: list[Row]) -> list[tuple[str, list[Row], Callable[[list[Row]], str]]]:
    def pick(scenario: str, test: Callable[[Row], bool] = lambda r: True) -> list[Row]:
        return [r for r in rows if r["scenario"] == scenario and test(r)]

    def ratios(group: list[Row]) -> str:
        wall = span([r["ratio_vs_reference"] for r in group])
        cpu = span([r["cpu_ratio_vs_reference"] for r in group if r.get("cpu_ratio_vs_reference")])
        return f"wall {wall}, CPU {cpu}"

    def rates(group: list[Row]) -> str:
        return span([r["median_value"] / 1e6 for r in group], "{:.2f}M lines/s")

    out: list[tuple[str, list[Row], Callable[[list[Row]], str]]] = []
    for shape, line in SHAPES.items():
        group = pick("shapes", lambda r, s=shape: r.get("shape") == s)
        if group:
            size = group[0]["payload"] >> 20
            out.append((f"`{line}`, {size} MiB (wall >= 1.0x, CPU <= 1.1x)", group, ratios))
    for capture in (True, False):
        tail = f"capture={capture}"
        group = pick(
            "lines", lambda r, t=tail: r.get("kind") == "events" and r["label"].endswith(t)
        )
        if group:
            out.append((f"line events, capture={capture} (>= 2M lines/s)", group, rates))
    group = pick("lines", lambda r: r.get("kind") == "iteration")
    if group:
        out.append(("`lines()` vs a bare async generator (>= 0.9x)", group, ratios))
    for backend in ("python", "rust"):
        group = pick("capture", lambda r, b=backend: r.get("backend") == b)
        if group:
            what = "; Rust >= Python" if backend == "rust" else ""
            out.append((f"capture, {backend} (>= 1.5x `subprocess.run`{what})", group, ratios))
    for width in (1, 8):
        group = pick(
            "spawn", lambda r, w=width: r.get("concurrency") == w and "cuprum" in r["label"]
        )
        if group:
            mode = "sequential" if width == 1 else "8 at a time"
            out.append((f"spawn+wait `true`, {mode} (>= 0.9x `subprocess.run`)", group, ratios))
    return out


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        path = Path(argv[1])
    else:
        found = sorted((ROOT / "benchmarks" / "results").glob("*.json"))
        if not found:
            print("no results: run `make bench` first", file=sys.stderr)
            return 1
        path = found[-1]
    data = json.loads(path.read_text())
    print(data["table"].splitlines()[0])
    print(f"({path.name})\n")
    print("| target | result (over loops x backends) | met |")
    print("| --- | --- | --- |")
    for name, group, show in target_rows(data["rows"]):
        met = sum(bool(r["target_met"]) for r in group)
        cell = name.replace("|", "\\|")  # a pipe inside a table cell
        print(f"| {cell} | {show(group)} | {met}/{len(group)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
