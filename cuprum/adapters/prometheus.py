"""Prometheus metrics of cuprum runs, with `prometheus_client`.

Needs the ``prometheus`` extra: ``pip install cuprum[prometheus]``.

Three metrics are registered (``cuprum`` is the default ``namespace``):

- ``cuprum_runs_total{host, program, outcome}``: a counter of finished
  runs, where ``outcome`` is ``ok``, ``failed``, ``timeout`` or
  ``cancelled`` and ``host`` the remote host (`cuprum.remote.SSHHost`
  destination), empty for local runs. Each stage of a pipeline counts as a
  run of its own program;
- ``cuprum_run_duration_seconds{host, program}``: a histogram of the runs'
  durations, whatever their outcome;
- ``cuprum_pipeline_pumped_bytes_total{program, stage}``: a counter of
  the bytes of a stage's stdout that cuprum pumped to the next stage
  (``stage`` is the stage's index in its pipeline, as a string; the last
  stage pumps nothing and is not counted).

Several listeners on one registry share the metrics, so `install` may be
called more than once.

Examples
--------
>>> from prometheus_client import CollectorRegistry
>>> from cuprum.adapters import prometheus
>>> registry = CollectorRegistry()
>>> handle = prometheus.install(registry)
>>> handle.detach()
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, final

try:
    from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
except ImportError as _missing:
    raise ImportError(
        "cuprum.adapters.prometheus needs prometheus_client: "
        "install it with `pip install cuprum[prometheus]`"
    ) from _missing

from cuprum import ExecEvent, sh

if TYPE_CHECKING:
    from cuprum import HookHandle

__all__ = ["DURATION_BUCKETS", "PrometheusListener", "install"]

DURATION_BUCKETS: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0,
)  # fmt: skip
"""Default histogram buckets, in seconds: subprocesses run from ms to minutes."""


@dataclass(frozen=True, slots=True)
class _Metrics:
    runs: Counter
    duration: Histogram
    pumped: Counter
    buckets: tuple[float, ...]


_shared: weakref.WeakKeyDictionary[CollectorRegistry, dict[str, _Metrics]] = (
    weakref.WeakKeyDictionary()
)


def _metrics_for(
    registry: CollectorRegistry, namespace: str, buckets: tuple[float, ...]
) -> _Metrics:
    by_namespace = _shared.setdefault(registry, {})
    found = by_namespace.get(namespace)
    if found is not None:
        if found.buckets != buckets:
            raise ValueError(
                f"the {namespace!r} metrics of this registry already use the buckets "
                f"{found.buckets}, not {buckets}"
            )
        return found
    metrics = _Metrics(
        runs=Counter(
            "runs",
            "Finished cuprum runs (pipeline stages count one each) by host, program and outcome.",
            ("host", "program", "outcome"),
            namespace=namespace,
            registry=registry,
        ),
        duration=Histogram(
            "run_duration_seconds",
            "Duration of cuprum runs (pipeline stages count one each) by host and program.",
            ("host", "program"),
            namespace=namespace,
            registry=registry,
            buckets=buckets,
        ),
        pumped=Counter(
            "pipeline_pumped_bytes",
            "Bytes of a pipeline stage's stdout pumped to the next stage.",
            ("program", "stage"),
            namespace=namespace,
            registry=registry,
        ),
        buckets=buckets,
    )
    by_namespace[namespace] = metrics
    return metrics


@final
class PrometheusListener:
    """A `sh.observe` listener that counts and times runs in Prometheus metrics.

    Parameters
    ----------
    registry : CollectorRegistry | None
        Where the metrics live; default the global
        ``prometheus_client.REGISTRY``.
    namespace : str
        Prefix of the metric names.
    buckets : Sequence[float]
        Upper bounds, in seconds, of the duration histogram's buckets.

    Attributes
    ----------
    runs : prometheus_client.Counter
        ``<namespace>_runs_total{host, program, outcome}``.
    duration : prometheus_client.Histogram
        ``<namespace>_run_duration_seconds{host, program}``.
    pumped : prometheus_client.Counter
        ``<namespace>_pipeline_pumped_bytes_total{program, stage}``.

    Raises
    ------
    ValueError
        The registry already holds these metrics with other buckets.
    """

    __slots__ = ("duration", "pumped", "runs")

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        namespace: str = "cuprum",
        buckets: Sequence[float] = DURATION_BUCKETS,
    ) -> None:
        metrics = _metrics_for(
            registry if registry is not None else REGISTRY, namespace, tuple(buckets)
        )
        self.runs: Counter = metrics.runs
        self.duration: Histogram = metrics.duration
        self.pumped: Counter = metrics.pumped

    def __call__(self, event: ExecEvent) -> None:
        """Record ``event`` if it ends a run; ignore the others."""
        outcome = event.outcome
        if outcome is None:
            return
        host = event.host or ""
        self.runs.labels(host=host, program=event.program, outcome=outcome).inc()
        if event.duration is not None:
            self.duration.labels(host=host, program=event.program).observe(event.duration)
        if event.bytes_out is not None:
            self.pumped.labels(program=event.program, stage=str(event.stage_index)).inc(
                event.bytes_out
            )


def install(
    registry: CollectorRegistry | None = None,
    *,
    namespace: str = "cuprum",
    buckets: Sequence[float] = DURATION_BUCKETS,
) -> HookHandle:
    """Record the runs of the current scope (all runs, outside any `sh.scoped`).

    Parameters
    ----------
    registry : CollectorRegistry | None
        Where the metrics live; default the global
        ``prometheus_client.REGISTRY``.
    namespace : str
        Prefix of the metric names.
    buckets : Sequence[float]
        Upper bounds, in seconds, of the duration histogram's buckets.

    Returns
    -------
    HookHandle
        Call ``.detach()``, or use it as a context manager, to stop recording
        (the metrics stay registered).
    """
    return sh.observe(PrometheusListener(registry, namespace=namespace, buckets=buckets))
