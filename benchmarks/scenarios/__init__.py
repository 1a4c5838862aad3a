"""The registry of scenarios, in the order they run and appear in the report.

A scenario is a module with a ``TITLE`` (its heading in the report) and a
``run(payloads, quick)`` that returns its rows; adding one is a module here
and a line in `SCENARIOS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from benchmarks.harness import Row
from benchmarks.payloads import Payloads
from benchmarks.scenarios import (
    cancel,
    capture,
    fleet,
    lines,
    onehost,
    pipeline,
    remote,
    rss,
    shapes,
    spawn,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    """One section of the benchmark: ``--only`` selects it by ``name``."""

    name: str
    title: str
    run: Callable[[Payloads, bool], list[Row]]  # (payloads, quick) -> rows


SCENARIOS = (
    Scenario(name="pipeline", title=pipeline.TITLE, run=pipeline.run),
    Scenario(name="shapes", title=shapes.TITLE, run=shapes.run),
    Scenario(name="capture", title=capture.TITLE, run=capture.run),
    Scenario(name="spawn", title=spawn.TITLE, run=spawn.run),
    Scenario(name="lines", title=lines.TITLE, run=lines.run),
    Scenario(name="rss", title=rss.TITLE, run=rss.run),
    Scenario(name="cancel", title=cancel.TITLE, run=cancel.run),
    Scenario(name="remote", title=remote.TITLE, run=remote.run),
    Scenario(name="onehost", title=onehost.TITLE, run=onehost.run),
    Scenario(name="fleet", title=fleet.TITLE, run=fleet.run),
)
