"""OpenTelemetry spans for cuprum runs.

Needs the ``otel`` extra: ``pip install cuprum[otel]`` (the API package;
install an SDK and an exporter to send the spans somewhere).

Each command gets a span named after its program, from its ``plan`` event
(before the spawn) to its last event. A pipeline gets a span named after
its programs (``"printf | tr"``), from its first stage's ``plan`` event to
the last final event of its stages, and each stage's span is its child.
A single command's span is a child of the span current where the command
is run.

Span attributes follow the OpenTelemetry semantic conventions for
processes: ``process.pid``, ``process.command``, ``process.command_args``,
``process.executable.name``, ``process.working_directory`` (when a ``cwd``
is set) and ``process.exit.code``; cuprum adds ``cuprum.run_id``,
``cuprum.pipeline_id`` and ``cuprum.stage_index`` (pipeline stages),
``cuprum.unsafe``, ``cuprum.outcome`` (``ok``, ``failed``, ``timeout``,
``cancelled``), ``cuprum.bytes_out`` (bytes a non-last stage pumped) and
one ``cuprum.tag.<key>`` per tag. A command run on a remote host (see
`cuprum.remote`) also gets ``server.address`` (and ``cuprum.host``): the
host's destination; ``process.pid`` is then the host's ControlMaster's (the
local process carrying the session).
A run that fails, times out or is cancelled gets the status ERROR with a
description; a successful one leaves the status unset, as instrumentation
libraries should.

Examples
--------
>>> from opentelemetry.sdk.trace import TracerProvider
>>> from cuprum.adapters import otel
>>> handle = otel.install(TracerProvider())
>>> handle.detach()
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, final

try:
    from opentelemetry import trace
    from opentelemetry.trace import Span, Status, StatusCode, TracerProvider
except ImportError as _missing:
    raise ImportError(
        "cuprum.adapters.otel needs opentelemetry-api: install it with `pip install cuprum[otel]`"
    ) from _missing

from cuprum import EventPhase, ExecEvent, __version__, sh

if TYPE_CHECKING:
    from opentelemetry.util.types import AttributeValue

    from cuprum import HookHandle

__all__ = ["OtelListener", "install"]

_FINAL = frozenset({EventPhase.EXIT, EventPhase.TIMEOUT, EventPhase.CANCEL})


def _describe(event: ExecEvent, outcome: str) -> str:
    duration = event.duration if event.duration is not None else 0.0
    if outcome == "timeout":
        return f"{event.program} timed out after {duration:.3f} s"
    if outcome == "cancelled":
        return f"{event.program} was cancelled after {duration:.3f} s"
    return f"{event.program} exited with {event.exit_code}"


def _wall_ns(monotonic: float) -> int:
    """Turn an event's `time.monotonic` stamp into the epoch nanoseconds spans use."""
    return time.time_ns() - int((time.monotonic() - monotonic) * 1e9)


@dataclass(slots=True)
class _Pipeline:
    span: Span
    programs: dict[int, str] = field(default_factory=dict[int, str])
    finished: int = 0
    outcome: str = "ok"
    failure: str | None = None


@final
class OtelListener:
    """A `sh.observe` listener that turns runs into OpenTelemetry spans.

    Parameters
    ----------
    tracer_provider : opentelemetry.trace.TracerProvider | None
        Where the tracer comes from; default the global provider (as set
        with ``opentelemetry.trace.set_tracer_provider``).

    Notes
    -----
    Spans end with a run's final event (``exit``, ``timeout`` or
    ``cancel``); output lines are not recorded.
    """

    __slots__ = ("_pipelines", "_spans", "_tracer")

    def __init__(self, tracer_provider: TracerProvider | None = None) -> None:
        self._tracer = trace.get_tracer("cuprum", __version__, tracer_provider=tracer_provider)
        self._spans: dict[str, Span] = {}
        self._pipelines: dict[str, _Pipeline] = {}

    def __call__(self, event: ExecEvent) -> None:
        """Open, annotate or end the spans ``event`` belongs to."""
        span = self._spans.get(event.run_id)
        if span is None and event.phase in (EventPhase.STDOUT, EventPhase.STDERR):
            return
        wall = _wall_ns(event.time)
        if span is None:
            span = self._open(event, wall)
        if event.phase is EventPhase.START:
            if event.pid is not None:
                span.set_attribute("process.pid", event.pid)
            span.add_event("start", timestamp=wall)
        elif event.phase in _FINAL:
            self._close(span, event, wall)

    def _open(self, event: ExecEvent, wall: int) -> Span:
        context = None
        if event.pipeline_id is not None:
            pipeline = self._pipelines.get(event.pipeline_id)
            if pipeline is None:
                pipeline = _Pipeline(
                    self._tracer.start_span(
                        event.program,
                        start_time=wall,
                        attributes=_common(event, {"cuprum.pipeline_id": event.pipeline_id}),
                    )
                )
                self._pipelines[event.pipeline_id] = pipeline
            pipeline.programs[event.stage_index] = event.program
            pipeline.span.update_name(" | ".join(p for _, p in sorted(pipeline.programs.items())))
            context = trace.set_span_in_context(pipeline.span)
        attributes = _common(
            event,
            {
                "cuprum.run_id": event.run_id,
                "process.command": event.argv[0],
                "process.command_args": list(event.argv),
                "process.executable.name": os.path.basename(event.argv[0]),
            },
        )
        if event.pipeline_id is not None:
            attributes["cuprum.pipeline_id"] = event.pipeline_id
            attributes["cuprum.stage_index"] = event.stage_index
        if event.cwd is not None:
            attributes["process.working_directory"] = event.cwd
        if event.pid is not None:
            attributes["process.pid"] = event.pid
        span = self._tracer.start_span(
            event.program, context=context, start_time=wall, attributes=attributes
        )
        self._spans[event.run_id] = span
        return span

    def _close(self, span: Span, event: ExecEvent, end: int) -> None:
        del self._spans[event.run_id]
        outcome = event.outcome or "failed"  # only final events are closed
        span.set_attribute("cuprum.outcome", outcome)
        if event.exit_code is not None:
            span.set_attribute("process.exit.code", event.exit_code)
        if event.bytes_out is not None:
            span.set_attribute("cuprum.bytes_out", event.bytes_out)
        description = None
        if outcome != "ok":
            description = _describe(event, outcome)
            span.set_status(Status(StatusCode.ERROR, description))
        span.end(end_time=end)
        if event.pipeline_id is None:
            return
        pipeline = self._pipelines.get(event.pipeline_id)
        if pipeline is None:  # pragma: no cover - every stage span opens its pipeline's
            return
        pipeline.finished += 1
        if description is not None and pipeline.failure is None:
            # The first stage to fail is the cause; cuprum ends the others.
            pipeline.outcome = outcome
            pipeline.failure = f"stage {event.stage_index}: {description}"
        if pipeline.finished < len(pipeline.programs):
            return
        del self._pipelines[event.pipeline_id]
        pipeline.span.set_attribute("cuprum.stages", len(pipeline.programs))
        pipeline.span.set_attribute("cuprum.outcome", pipeline.outcome)
        if pipeline.failure is not None:
            pipeline.span.set_status(Status(StatusCode.ERROR, pipeline.failure))
        pipeline.span.end(end_time=end)


def _common(event: ExecEvent, attributes: dict[str, AttributeValue]) -> dict[str, AttributeValue]:
    attributes["cuprum.unsafe"] = event.unsafe
    if event.host is not None:
        attributes["server.address"] = event.host
        attributes["cuprum.host"] = event.host
    for key, value in event.tags.items():
        attributes[f"cuprum.tag.{key}"] = value
    return attributes


def install(tracer_provider: TracerProvider | None = None) -> HookHandle:
    """Trace the runs of the current scope (all runs, outside any `sh.scoped`).

    Parameters
    ----------
    tracer_provider : opentelemetry.trace.TracerProvider | None
        Where the tracer comes from; default the global provider.

    Returns
    -------
    HookHandle
        Call ``.detach()``, or use it as a context manager, to stop tracing.
    """
    return sh.observe(OtelListener(tracer_provider))
