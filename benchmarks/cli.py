"""cuprum benchmark suite: ``make bench`` (full) and ``make bench-quick``.

Runs the scenarios of `benchmarks.scenarios.SCENARIOS` (all, or those named
by ``--only``), prints the table, and writes the JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks.harness import BACKENDS, LOOPS, RESULTS, Row, log
from benchmarks.payloads import Payloads
from benchmarks.report import header, machine, summary, table, write_json
from benchmarks.scenarios import SCENARIOS


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
        default=",".join(s.name for s in SCENARIOS),
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
            for scenario in SCENARIOS:
                if scenario.name in only:
                    rows += scenario.run(payloads, quick)
    finally:
        payloads.cleanup()
        if old_backend is None:
            os.environ.pop("CUPRUM_STREAM_BACKEND", None)
        else:
            os.environ["CUPRUM_STREAM_BACKEND"] = old_backend
    elapsed = time.perf_counter() - started
    info["loadavg_end"] = os.getloadavg()

    report = header(info, quick=quick, elapsed=elapsed) + "\n" + table(rows) + "\n" + summary(rows)
    print(report)

    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    out = args.out or RESULTS / f"{stamp}{'-quick' if quick else ''}.json"
    write_json(
        out,
        stamp=stamp,
        quick=quick,
        elapsed=elapsed,
        info=info,
        applied=applied,
        rows=rows,
        report=report,
    )
    log(f"\nJSON written to {out}")
    return 0
