"""The logging, Prometheus and OpenTelemetry adapters, against the real libraries."""

from __future__ import annotations

import importlib
import logging
import re
import signal
import sys
from collections.abc import Iterator

import anyio
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from prometheus_client import CollectorRegistry

from cuprum import (
    CAT,
    ECHO,
    FALSE,
    HEAD,
    PRINTF,
    SH,
    SLEEP,
    TR,
    WC,
    YES,
    TimeoutExpired,
    sh,
)
from cuprum.adapters import logging as cuprum_logging
from cuprum.adapters import otel, prometheus
from tests.helpers import LeakChecker

# --- logging ----------------------------------------------------------------------


def cuprum_records(
    caplog: pytest.LogCaptureFixture, name: str = "cuprum"
) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == name]


async def test_logging_one_record_per_start_and_exit(
    anyio_backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="cuprum")
    with sh.scoped(tags={"job": "nightly"}), cuprum_logging.install():
        result = await sh.make(ECHO)("one\ntwo").run()
    start, end = cuprum_records(caplog)
    assert start.levelno == logging.INFO
    assert start.getMessage() == f"echo started (pid {result.pid})"
    assert start.__dict__["cuprum_phase"] == "start"
    assert end.levelno == logging.INFO
    assert end.getMessage().startswith("echo exited with 0 after ")
    fields = end.__dict__
    assert fields["cuprum_phase"] == "exit"
    assert fields["cuprum_program"] == "echo"
    assert fields["cuprum_argv"] == ["echo", "one\ntwo"]
    assert fields["cuprum_pid"] == result.pid
    assert fields["cuprum_exit_code"] == 0
    assert fields["cuprum_outcome"] == "ok"
    assert fields["cuprum_duration"] == pytest.approx(result.duration, abs=0.05)
    assert fields["cuprum_run_id"] == start.__dict__["cuprum_run_id"]
    assert fields["cuprum_run_id"].startswith("run-")
    assert fields["cuprum_pipeline_id"] is None
    assert fields["cuprum_stage_index"] == 0
    assert fields["cuprum_tags"] == {"job": "nightly"}
    assert fields["cuprum_cwd"] is None
    assert fields["cuprum_unsafe"] is False
    assert fields["cuprum_bytes_out"] is None


async def test_logging_failures_and_timeouts_at_warning_cancel_at_info(
    anyio_backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="cuprum")
    with cuprum_logging.install():
        await sh.make(FALSE)().run()
        with pytest.raises(TimeoutExpired):
            await sh.make(SLEEP)("300").run(timeout=0.2)
        with anyio.move_on_after(0.2):
            await sh.make(SLEEP)("300").run()
    ends = [r for r in cuprum_records(caplog) if r.__dict__["cuprum_phase"] != "start"]
    assert [(r.__dict__["cuprum_phase"], r.levelname) for r in ends] == [
        ("exit", "WARNING"),
        ("timeout", "WARNING"),
        ("cancel", "INFO"),
    ]
    assert [r.__dict__["cuprum_outcome"] for r in ends] == ["failed", "timeout", "cancelled"]
    assert ends[0].getMessage().startswith("false exited with 1 after ")
    assert ends[1].getMessage().startswith("sleep timed out after ")
    assert ends[1].__dict__["cuprum_exit_code"] == -signal.SIGTERM
    assert ends[2].getMessage().startswith("sleep cancelled after ")


async def test_logging_logger_and_levels_are_injectable(
    anyio_backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="myapp.commands")
    logger = logging.getLogger("myapp.commands")
    with cuprum_logging.install(logger, level=logging.DEBUG, failure_level=logging.ERROR):
        await sh.make(ECHO)("x").run()
        await sh.make(FALSE)().run()
    records = cuprum_records(caplog, "myapp.commands")
    assert [r.levelname for r in records] == ["DEBUG", "DEBUG", "DEBUG", "ERROR"]
    assert cuprum_records(caplog) == []


async def test_logging_respects_the_logger_level(
    anyio_backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="cuprum")
    with cuprum_logging.install():
        await sh.make(ECHO)("x").run()
        await sh.make(FALSE)().run()
    assert [r.__dict__["cuprum_program"] for r in cuprum_records(caplog)] == ["false"]


async def test_logging_pipeline_stages(
    anyio_backend: str, cuprum_stream_backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="cuprum")
    with sh.observe(cuprum_logging.LoggingListener()):
        await (sh.make(PRINTF)("abc") | sh.make(TR)("a-z", "A-Z")).run()
    records = cuprum_records(caplog)
    assert len(records) == 4
    pipeline_ids = {r.__dict__["cuprum_pipeline_id"] for r in records}
    assert len(pipeline_ids) == 1
    assert None not in pipeline_ids
    ends = {
        r.__dict__["cuprum_stage_index"]: r for r in records if r.__dict__["cuprum_phase"] == "exit"
    }
    assert ends[0].__dict__["cuprum_bytes_out"] == 3
    assert ends[1].__dict__["cuprum_bytes_out"] is None


async def test_logging_detach_stops_records(
    anyio_backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="cuprum")
    handle = cuprum_logging.install()
    await sh.make(ECHO)("x").run()
    handle.detach()
    await sh.make(ECHO)("x").run()
    assert len(cuprum_records(caplog)) == 2


# --- prometheus -------------------------------------------------------------------


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


def runs(registry: CollectorRegistry, program: str, outcome: str) -> float | None:
    labels = {"host": "", "program": program, "outcome": outcome}
    return registry.get_sample_value("cuprum_runs_total", labels)


async def test_prometheus_ok_and_failed_runs(
    anyio_backend: str, registry: CollectorRegistry
) -> None:
    with prometheus.install(registry):
        await sh.make(ECHO)("x").run()
        await sh.make(ECHO)("y").run()
        await sh.make(FALSE)().run()
    assert runs(registry, "echo", "ok") == 2
    assert runs(registry, "echo", "failed") is None
    assert runs(registry, "false", "failed") == 1
    assert runs(registry, "false", "ok") is None
    count = registry.get_sample_value(
        "cuprum_run_duration_seconds_count", {"host": "", "program": "echo"}
    )
    total = registry.get_sample_value(
        "cuprum_run_duration_seconds_sum", {"host": "", "program": "echo"}
    )
    assert count == 2
    assert total is not None
    assert 0 < total < 10
    inf_bucket = registry.get_sample_value(
        "cuprum_run_duration_seconds_bucket", {"host": "", "program": "echo", "le": "+Inf"}
    )
    assert inf_bucket == 2


async def test_prometheus_timeout_and_cancelled_runs(
    anyio_backend: str, registry: CollectorRegistry, leak_check: LeakChecker
) -> None:
    with prometheus.install(registry):
        with pytest.raises(TimeoutExpired):
            await sh.make(SLEEP)("300").run(timeout=0.2)
        with anyio.move_on_after(0.2):
            await sh.make(SLEEP)("301").run()
    assert runs(registry, "sleep", "timeout") == 1
    assert runs(registry, "sleep", "cancelled") == 1
    assert runs(registry, "sleep", "ok") is None
    count = registry.get_sample_value(
        "cuprum_run_duration_seconds_count", {"host": "", "program": "sleep"}
    )
    assert count == 2


async def test_prometheus_bytes_pumped_per_stage(
    anyio_backend: str, cuprum_stream_backend: str, registry: CollectorRegistry
) -> None:
    size = 100_000
    pipeline = sh.make(PRINTF)("%s", "x" * size) | sh.make(CAT)() | sh.make(WC)("-c")
    with prometheus.install(registry):
        result = await pipeline.run()
        await pipeline.run()
    assert result.stdout is not None
    assert result.stdout.strip() == str(size)

    def pumped(program: str, stage: str) -> float | None:
        return registry.get_sample_value(
            "cuprum_pipeline_pumped_bytes_total", {"program": program, "stage": stage}
        )

    assert pumped("printf", "0") == 2 * size
    assert pumped("cat", "1") == 2 * size
    assert pumped("wc", "2") is None
    for program in ("printf", "cat", "wc"):
        assert runs(registry, program, "ok") == 2


async def test_prometheus_excused_sigpipe_counts_as_ok(
    anyio_backend: str, cuprum_stream_backend: str, registry: CollectorRegistry
) -> None:
    with prometheus.install(registry), anyio.fail_after(30):
        result = await (sh.make(YES)() | sh.make(HEAD)("-n", "1")).run()
    assert result.ok
    assert result.stages[0].exit_code == -signal.SIGPIPE
    assert runs(registry, "yes", "ok") == 1
    assert runs(registry, "yes", "failed") is None
    pumped = registry.get_sample_value(
        "cuprum_pipeline_pumped_bytes_total", {"program": "yes", "stage": "0"}
    )
    assert pumped is not None  # its value: see test_events (bytes_out lost on a stopped pump)


async def test_prometheus_ok_codes_count_as_ok(
    anyio_backend: str, registry: CollectorRegistry
) -> None:
    with prometheus.install(registry):
        result = await sh.make(FALSE)().run(ok_codes=[1])
    assert result.ok
    assert runs(registry, "false", "ok") == 1


async def test_prometheus_listeners_share_a_registry(
    anyio_backend: str, registry: CollectorRegistry
) -> None:
    with sh.scoped():
        first = prometheus.install(registry, namespace="cuprum")
        await sh.make(ECHO)("a").run()
    with sh.scoped():
        second = prometheus.PrometheusListener(registry)
        sh.observe(second)
        await sh.make(ECHO)("b").run()
    first.detach()
    assert runs(registry, "echo", "ok") == 2
    with pytest.raises(ValueError, match="buckets"):
        prometheus.PrometheusListener(registry, buckets=(1.0, 2.0))


async def test_prometheus_namespace_and_buckets(
    anyio_backend: str, registry: CollectorRegistry
) -> None:
    with prometheus.install(registry, namespace="jobs", buckets=(0.001, 60.0)):
        await sh.make(ECHO)("x").run()
    labels = {"host": "", "program": "echo", "outcome": "ok"}
    assert registry.get_sample_value("jobs_runs_total", labels) == 1
    assert (
        registry.get_sample_value(
            "jobs_run_duration_seconds_bucket", {"host": "", "program": "echo", "le": "60.0"}
        )
        == 1
    )
    assert runs(registry, "echo", "ok") is None


def test_prometheus_default_registry_is_reused() -> None:
    from prometheus_client import REGISTRY

    first = prometheus.PrometheusListener()
    second = prometheus.PrometheusListener()
    assert first.runs is second.runs
    assert REGISTRY.get_sample_value("cuprum_runs_total", {"program": "x", "outcome": "ok"}) is None


# --- opentelemetry ----------------------------------------------------------------


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> Iterator[TracerProvider]:
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield tracer_provider
    tracer_provider.shutdown()


def only(spans: tuple[ReadableSpan, ...]) -> ReadableSpan:
    assert len(spans) == 1, [s.name for s in spans]
    return spans[0]


async def test_otel_span_per_command(
    anyio_backend: str, exporter: InMemorySpanExporter, provider: TracerProvider
) -> None:
    with sh.scoped(tags={"job": "demo"}), otel.install(provider):
        result = await sh.make(ECHO)("hello", "world").run()
    span = only(exporter.get_finished_spans())
    assert span.name == "echo"
    assert span.kind is SpanKind.INTERNAL
    assert span.parent is None
    assert span.instrumentation_scope is not None
    assert span.instrumentation_scope.name == "cuprum"
    attributes = dict(span.attributes or {})
    assert attributes["process.pid"] == result.pid
    assert attributes["process.command"] == "echo"
    assert attributes["process.command_args"] == ("echo", "hello", "world")
    assert attributes["process.executable.name"] == "echo"
    assert attributes["process.exit.code"] == 0
    assert str(attributes["cuprum.run_id"]).startswith("run-")
    assert attributes["cuprum.tag.job"] == "demo"
    assert attributes["cuprum.outcome"] == "ok"
    assert attributes["cuprum.unsafe"] is False
    assert "cuprum.pipeline_id" not in attributes
    assert "process.working_directory" not in attributes
    assert span.status.status_code is StatusCode.UNSET
    assert [event.name for event in span.events] == ["start"]
    assert span.start_time is not None
    assert span.end_time is not None
    elapsed = (span.end_time - span.start_time) / 1e9
    assert result.duration <= elapsed + 0.01
    assert elapsed < result.duration + 1.0


async def test_otel_working_directory(
    anyio_backend: str, exporter: InMemorySpanExporter, provider: TracerProvider, tmp_path: object
) -> None:
    with sh.scoped(cwd=str(tmp_path)), otel.install(provider):
        await sh.make(ECHO)("x").run()
    span = only(exporter.get_finished_spans())
    assert dict(span.attributes or {})["process.working_directory"] == str(tmp_path)


@pytest.mark.parametrize(
    "case",
    [
        ("failed", "false exited with 1"),
        ("timeout", "sleep timed out after "),
        ("cancelled", "sleep was cancelled after "),
    ],
    ids=lambda case: case[0],
)
async def test_otel_error_status(
    anyio_backend: str,
    exporter: InMemorySpanExporter,
    provider: TracerProvider,
    case: tuple[str, str],
) -> None:
    outcome, description = case
    with otel.install(provider):
        if outcome == "failed":
            await sh.make(FALSE)().run()
        elif outcome == "timeout":
            with pytest.raises(TimeoutExpired):
                await sh.make(SLEEP)("300").run(timeout=0.2)
        else:
            with anyio.move_on_after(0.2):
                await sh.make(SLEEP)("300").run()
    span = only(exporter.get_finished_spans())
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description is not None
    assert span.status.description.startswith(description)
    attributes = dict(span.attributes or {})
    assert attributes["cuprum.outcome"] == outcome
    expected_code = 1 if outcome == "failed" else -signal.SIGTERM
    assert attributes["process.exit.code"] == expected_code


async def test_otel_command_span_is_a_child_of_the_current_span(
    anyio_backend: str, exporter: InMemorySpanExporter, provider: TracerProvider
) -> None:
    tracer = provider.get_tracer("test")
    with otel.install(provider), tracer.start_as_current_span("outer") as outer:
        await sh.make(ECHO)("x").run()
    command, outer_span = exporter.get_finished_spans()
    assert outer_span.name == "outer"
    assert command.parent is not None
    assert command.parent.span_id == outer.get_span_context().span_id
    assert command.context is not None
    assert command.context.trace_id == outer.get_span_context().trace_id


async def test_otel_pipeline_span_with_stage_children(
    anyio_backend: str,
    cuprum_stream_backend: str,
    exporter: InMemorySpanExporter,
    provider: TracerProvider,
) -> None:
    pipeline = sh.make(PRINTF)("abc\n") | sh.make(TR)("a-z", "A-Z") | sh.make(WC)("-l")
    with sh.scoped(tags={"job": "p"}), otel.install(provider):
        result = await pipeline.run()
    spans = exporter.get_finished_spans()
    assert len(spans) == 4
    (parent,) = [s for s in spans if s.name == "printf | tr | wc"]
    stages = sorted(
        (s for s in spans if s is not parent),
        key=lambda s: int(str(dict(s.attributes or {})["cuprum.stage_index"])),
    )
    assert [s.name for s in stages] == ["printf", "tr", "wc"]
    assert parent.parent is None
    assert parent.context is not None
    for span, stage_result in zip(stages, result.stages, strict=True):
        assert span.parent is not None
        assert span.parent.span_id == parent.context.span_id
        assert span.context is not None
        assert span.context.trace_id == parent.context.trace_id
        attributes = dict(span.attributes or {})
        assert attributes["process.pid"] == stage_result.pid
        assert attributes["process.exit.code"] == 0
        assert (
            attributes["cuprum.pipeline_id"] == dict(parent.attributes or {})["cuprum.pipeline_id"]
        )
        assert attributes["cuprum.tag.job"] == "p"
        assert span.status.status_code is StatusCode.UNSET
        assert span.start_time is not None
        assert span.end_time is not None
        assert parent.start_time is not None
        assert parent.end_time is not None
        assert parent.start_time <= span.start_time
        assert span.end_time <= parent.end_time
    assert [dict(s.attributes or {}).get("cuprum.bytes_out") for s in stages] == [4, 4, None]
    parent_attributes = dict(parent.attributes or {})
    assert str(parent_attributes["cuprum.pipeline_id"]).startswith("pipeline-")
    assert parent_attributes["cuprum.stages"] == 3
    assert parent_attributes["cuprum.outcome"] == "ok"
    assert parent_attributes["cuprum.tag.job"] == "p"
    assert "process.pid" not in parent_attributes
    assert parent.status.status_code is StatusCode.UNSET


async def test_otel_failed_pipeline_status_names_the_failing_stage(
    anyio_backend: str, exporter: InMemorySpanExporter, provider: TracerProvider
) -> None:
    pipeline = sh.make(ECHO)("x") | sh.make(SH)("-c", "cat >/dev/null; exit 3")
    with otel.install(provider):
        result = await pipeline.run()
    assert not result.ok
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert set(spans) == {"echo", "sh", "echo | sh"}
    assert spans["echo"].status.status_code is StatusCode.UNSET
    assert spans["sh"].status.status_code is StatusCode.ERROR
    parent = spans["echo | sh"]
    assert parent.status.status_code is StatusCode.ERROR
    assert parent.status.description == "stage 1: sh exited with 3"
    assert dict(parent.attributes or {})["cuprum.outcome"] == "failed"


async def test_otel_cancelled_pipeline_ends_every_span(
    anyio_backend: str,
    exporter: InMemorySpanExporter,
    provider: TracerProvider,
    leak_check: LeakChecker,
) -> None:
    with otel.install(provider), anyio.move_on_after(0.3):
        await (sh.make(SLEEP)("300") | sh.make(CAT)()).run()
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert set(spans) == {"sleep", "cat", "sleep | cat"}
    assert all(s.status.status_code is StatusCode.ERROR for s in spans.values())
    assert dict(spans["sleep | cat"].attributes or {})["cuprum.outcome"] == "cancelled"


async def test_otel_listener_keeps_no_state_after_runs(
    anyio_backend: str, exporter: InMemorySpanExporter, provider: TracerProvider
) -> None:
    listener = otel.OtelListener(provider)
    with sh.observe(listener):
        await sh.make(ECHO)("x").run()
        await (sh.make(ECHO)("x") | sh.make(CAT)()).run()
    assert len(exporter.get_finished_spans()) == 4
    assert listener._spans == {}
    assert listener._pipelines == {}


# --- missing libraries ------------------------------------------------------------


@pytest.mark.parametrize(
    ("adapter", "modules", "extra"),
    [
        ("cuprum.adapters.prometheus", ["prometheus_client"], "cuprum[prometheus]"),
        ("cuprum.adapters.otel", ["opentelemetry", "opentelemetry.trace"], "cuprum[otel]"),
    ],
)
def test_missing_library_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, adapter: str, modules: list[str], extra: str
) -> None:
    for module in modules:
        monkeypatch.setitem(sys.modules, module, None)
    monkeypatch.delitem(sys.modules, adapter)
    with pytest.raises(ImportError, match=re.escape(f"pip install {extra}")) as caught:
        importlib.import_module(adapter)
    assert isinstance(caught.value.__cause__, ImportError)


def test_logging_adapter_needs_nothing_else() -> None:
    module = importlib.import_module("cuprum.adapters.logging")
    assert module.LoggingListener is cuprum_logging.LoggingListener
    assert logging.getLogger("cuprum") is cuprum_logging.LoggingListener().logger
