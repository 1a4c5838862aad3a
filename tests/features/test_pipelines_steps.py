"""Steps for pipelines.feature: pipelines, stream backends, failures, cancellation.

Steps are synchronous and drive the async API with `anyio.run`; every
scenario runs on asyncio and trio through the ``anyio_backend`` fixture
(anyio's pytest plugin only drives async tests, so the steps read its value).
"""

from __future__ import annotations

import codecs
import hashlib
import os
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import pytest
from pytest_bdd import given, parsers, scenarios, then, when

import cuprum._backend
from cuprum import (
    CommandFailed,
    PipelineResult,
    SafeCmd,
    StreamBackendUnavailable,
    sh,
)
from cuprum._pipelines import Pipeline
from cuprum.streams import StreamBackend, clear_backend_cache, get_stream_backend
from tests.helpers import RUST_AVAILABLE, LeakChecker, child_pids

scenarios("pipelines.feature")

ENV_VAR = "CUPRUM_STREAM_BACKEND"


@dataclass
class Ctx:
    """What one scenario set up and what came of running it."""

    file: Path | None = None
    digest: str | None = None
    extension_hidden: bool = False
    pipeline: Pipeline | None = None
    result: PipelineResult | None = None
    error: BaseException | None = None
    backend_used: StreamBackend | None = None
    elapsed: float = 0.0
    children_before: set[int] = field(default_factory=set[int])
    leaks: list[str] = field(default_factory=list[str])


@pytest.fixture(autouse=True)
def loop(anyio_backend: str) -> str:
    """The event loop the steps drive (asyncio and trio)."""
    return anyio_backend


@pytest.fixture
def ctx() -> Ctx:
    return Ctx()


def _text(value: str) -> str:
    """Turn the feature file's escapes (``\\n``) into characters."""
    return codecs.decode(value, "unicode_escape")


def _build(text: str, ctx: Ctx) -> Pipeline:
    """Build ``a x | b y`` from catalogue programs, without any shell."""
    if ctx.file is not None:
        text = text.replace("{file}", shlex.quote(str(ctx.file)))
    cmds: list[SafeCmd] = []
    for part in text.split(" | "):
        program, *args = shlex.split(part)
        cmds.append(sh.make(program)(*args))
    pipeline = cmds[0] | cmds[1]
    for cmd in cmds[2:]:
        pipeline = pipeline | cmd
    return pipeline


# ------------------------------------------------------------------ given


@given("the Rust extension is not installed")
def hide_extension(ctx: Ctx, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cuprum._backend, "load_extension", lambda: None)
    clear_backend_cache()
    ctx.extension_hidden = True


@given(parsers.parse("CUPRUM_STREAM_BACKEND is {setting}"))
def set_backend(ctx: Ctx, monkeypatch: pytest.MonkeyPatch, setting: str) -> None:
    if setting == "rust" and not RUST_AVAILABLE and not ctx.extension_hidden:
        pytest.skip("Rust extension cuprum._streams_rs is not built")
    if setting == "unset":
        monkeypatch.delenv(ENV_VAR, raising=False)
    else:
        monkeypatch.setenv(ENV_VAR, setting)
    clear_backend_cache()


@given(parsers.parse("a file of {size:d} MiB of random bytes"))
def random_file(ctx: Ctx, tmp_path: Path, size: int) -> None:
    path = tmp_path / "random.bin"
    data = os.urandom(size << 20)
    path.write_bytes(data)
    ctx.file = path
    ctx.digest = hashlib.sha256(data).hexdigest()


# ------------------------------------------------------------------- when


@when(parsers.parse('I run the pipeline "{text}"'))
def run_pipeline(ctx: Ctx, loop: str, text: str) -> None:
    pipeline = ctx.pipeline = _build(text, ctx)

    async def go() -> None:
        ctx.backend_used = get_stream_backend()
        with anyio.fail_after(60):
            ctx.result = await pipeline.run()

    anyio.run(go, backend=loop)


@when(parsers.parse('I try to run the pipeline "{text}"'))
def try_pipeline(ctx: Ctx, loop: str, text: str) -> None:
    pipeline = ctx.pipeline = _build(text, ctx)
    ctx.children_before = child_pids()

    async def go() -> None:
        with anyio.fail_after(60):
            ctx.result = await pipeline.run()

    try:
        anyio.run(go, backend=loop)
    except Exception as exc:  # the Then steps look at it
        ctx.error = exc


@when(parsers.parse('I cancel the pipeline "{text}" after {delay:g} seconds'))
def cancel_pipeline(ctx: Ctx, loop: str, text: str, delay: float) -> None:
    pipeline = ctx.pipeline = _build(text, ctx)

    async def go() -> None:
        checker = LeakChecker()  # inside the loop: its own descriptors count
        started = time.monotonic()
        with anyio.move_on_after(delay) as scope:
            await pipeline.run()
        ctx.elapsed = time.monotonic() - started
        if not scope.cancelled_caught:
            ctx.leaks.append("the pipeline ended on its own")
        try:
            checker.assert_clean()
        except AssertionError as exc:
            ctx.leaks.append(str(exc))

    anyio.run(go, backend=loop)


# ------------------------------------------------------------------- then


@then("the pipeline succeeds")
def pipeline_succeeds(ctx: Ctx) -> None:
    assert ctx.result is not None
    assert ctx.result.ok, ctx.result
    assert ctx.result.failure is None


@then("the pipeline fails")
def pipeline_fails(ctx: Ctx) -> None:
    assert ctx.result is not None
    assert not ctx.result.ok


@then("the output is the sha256 digest of the file")
def output_is_digest(ctx: Ctx) -> None:
    assert ctx.result is not None
    assert ctx.result.stdout is not None
    assert ctx.result.stdout.split()[0] == ctx.digest


@then(parsers.parse('the output is "{text}"'))
def output_is(ctx: Ctx, text: str) -> None:
    assert ctx.result is not None
    assert ctx.result.stdout == _text(text)


@then(parsers.parse("the run used the {engine} stream backend"))
def backend_used(ctx: Ctx, engine: str) -> None:
    if engine == "auto":
        expected = StreamBackend.RUST if RUST_AVAILABLE else StreamBackend.PYTHON
    else:
        expected = StreamBackend(engine)
    assert ctx.backend_used is expected


@then(parsers.parse("stage {index:d} exited with code {code:d}"))
def stage_exit_code(ctx: Ctx, index: int, code: int) -> None:
    assert ctx.result is not None
    assert ctx.result.stages[index].exit_code == code


@then("no stage is reported as the failure")
def no_failure(ctx: Ctx) -> None:
    assert ctx.result is not None
    assert ctx.result.failure is None
    assert ctx.result.failure_index is None


@then(parsers.parse("the failure is stage {index:d}, which exited with code {code:d}"))
def failure_is(ctx: Ctx, index: int, code: int) -> None:
    result = ctx.result
    assert result is not None
    assert result.failure_index == index
    assert result.failure is result.stages[index]
    assert result.stages[index].exit_code == code


@then("running it with check raises CommandFailed carrying the pipeline's result")
def check_raises(ctx: Ctx, loop: str) -> None:
    pipeline = ctx.pipeline
    assert pipeline is not None

    async def go() -> None:
        with anyio.fail_after(60):
            await pipeline.run(check=True)

    with pytest.raises(CommandFailed) as info:
        anyio.run(go, backend=loop)
    result = info.value.result
    assert isinstance(result, PipelineResult)
    assert result.failure_index == 1
    assert not result.ok


@then("StreamBackendUnavailable is raised, saying how to build the extension")
def backend_unavailable(ctx: Ctx) -> None:
    assert isinstance(ctx.error, StreamBackendUnavailable), repr(ctx.error)
    message = str(ctx.error)
    assert ENV_VAR in message
    assert "rust" in message
    assert "make develop" in message or "maturin" in message


@then("no process was started")
def nothing_started(ctx: Ctx) -> None:
    assert ctx.result is None
    assert child_pids() == ctx.children_before


@then(parsers.parse("the cancellation returned within {limit:g} seconds"))
def cancelled_promptly(ctx: Ctx, limit: float) -> None:
    assert ctx.elapsed < limit, f"cancellation took {ctx.elapsed:.1f} s"


@then("no process or descriptor was left behind")
def nothing_left(ctx: Ctx) -> None:
    assert ctx.leaks == []
