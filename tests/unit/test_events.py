"""Execution events (SPEC section 8): order, ids, outcomes and listeners, on asyncio and trio."""

from __future__ import annotations

import dataclasses
import signal
import uuid
from pathlib import Path

import anyio
import pytest

from cuprum import (
    CAT,
    ECHO,
    FALSE,
    HEAD,
    SLEEP,
    TR,
    TRUE,
    YES,
    EventPhase,
    ExecEvent,
    SafeCmd,
    TimeoutExpired,
    sh,
    unsafe,
)
from tests.helpers import (
    FINAL,
    LINES,
    LeakChecker,
    assert_well_formed,
    by_run,
    lines_of,
    processes_with_marker,
    python_child,
)

pytestmark = pytest.mark.usefixtures("no_registration_leaks")


def py(code: str) -> SafeCmd:
    return unsafe.dynamic(python_child(code))


def marked_sleeper(marker: str, *, output: bool = True) -> SafeCmd:
    say = "print('ready', flush=True); " if output else ""
    return py(f"# {marker}\nimport time; {say}time.sleep(300)")


# --- order and ids ------------------------------------------------------------


async def test_single_run_event_order_and_fields(
    anyio_backend: str, cuprum_stream_backend: str
) -> None:
    events: list[ExecEvent] = []
    cmd = py(
        "import sys; print('one'); print('two'); sys.stdout.flush();"
        "sys.stderr.write('err\\n'); sys.exit(3)"
    )
    with sh.scoped(tags={"job": "t"}), sh.observe(events.append):
        result = await cmd.run()
    assert result.exit_code == 3
    assert_well_formed(events)
    assert lines_of(events, EventPhase.STDOUT) == ["one", "two"]
    assert lines_of(events, EventPhase.STDERR) == ["err"]
    last = events[-1]
    assert last.phase is EventPhase.EXIT
    assert last.exit_code == 3
    assert last.pid == result.pid
    assert last.bytes_out is None
    for event in events:
        assert event.run_id.startswith("run-")
        assert event.pipeline_id is None
        assert event.stage_index == 0
        assert event.program == cmd.program
        assert event.argv == cmd.argv
        assert event.cwd is None
        assert dict(event.tags) == {"job": "t"}
        assert event.unsafe
        assert event.host is None
        assert (event.line is not None) == (event.phase in LINES)


async def test_catalogue_command_events_are_not_unsafe(anyio_backend: str) -> None:
    events: list[ExecEvent] = []
    with sh.observe(events.append):
        await sh.make(ECHO)("hi").run()
    assert_well_formed(events)
    assert [e.phase for e in events] == ["plan", "start", "stdout", "exit"]
    assert not any(e.unsafe for e in events)
    assert events[-1].exit_code == 0


async def test_each_run_gets_its_own_run_id(anyio_backend: str) -> None:
    events: list[ExecEvent] = []
    cmd = sh.make(TRUE)()
    with sh.observe(events.append):
        await cmd.run()
        await cmd.run()
    runs = by_run(events)
    assert len(runs) == 2
    for run in runs.values():
        assert_well_formed(run)


async def test_pipeline_stages_share_pipeline_id(
    anyio_backend: str, cuprum_stream_backend: str
) -> None:
    events: list[ExecEvent] = []
    pipeline = sh.make(ECHO)("abc\ndef") | sh.make(TR)("a-z", "A-Z") | sh.make(CAT)()
    with sh.observe(events.append):
        result = await pipeline.run()
    assert result.stdout == "ABC\nDEF\n"
    runs = by_run(events)
    assert len(runs) == 3
    pipeline_ids = {e.pipeline_id for e in events}
    assert len(pipeline_ids) == 1
    (pipeline_id,) = pipeline_ids
    assert pipeline_id is not None
    assert pipeline_id.startswith("pipeline-")
    stages = sorted(runs.values(), key=lambda run: run[0].stage_index)
    assert [run[0].stage_index for run in stages] == [0, 1, 2]
    assert [run[0].program for run in stages] == ["echo", "tr", "cat"]
    for run, stage_result in zip(stages, result.stages, strict=True):
        assert_well_formed(run)
        assert {e.stage_index for e in run} == {run[0].stage_index}
        assert run[-1].phase is EventPhase.EXIT
        assert run[-1].pid == stage_result.pid
        assert run[-1].exit_code == 0
    # stdout lines come from the last stage only; the others are pumped.
    assert lines_of(stages[0], EventPhase.STDOUT) == []
    assert lines_of(stages[1], EventPhase.STDOUT) == []
    assert lines_of(stages[2], EventPhase.STDOUT) == ["ABC", "DEF"]
    # bytes_out: what each non-last stage had pumped to the next.
    assert [run[-1].bytes_out for run in stages] == [8, 8, None]


async def test_pumped_bytes_count_a_large_transfer(
    anyio_backend: str, cuprum_stream_backend: str
) -> None:
    events: list[ExecEvent] = []
    size = 3 * 1024 * 1024 + 17
    producer = py(f"import sys; sys.stdout.buffer.write(b'x' * {size})")
    with sh.observe(events.append):
        result = await (producer | sh.make(CAT)() | sh.make(CAT)()).run(capture=False)
    assert result.ok
    finals = {e.stage_index: e for e in events if e.phase in FINAL}
    assert [finals[i].bytes_out for i in range(3)] == [size, size, None]


async def test_bytes_out_counts_what_was_pumped_before_downstream_left(
    anyio_backend: str, cuprum_stream_backend: str, request: pytest.FixtureRequest
) -> None:
    events: list[ExecEvent] = []
    producer = py(
        "import sys, time; sys.stdout.write('x' * 1000); sys.stdout.flush();"
        "time.sleep(0.5); print('more')"
    )
    with sh.observe(events.append):
        result = await (producer | sh.make(HEAD)("-c", "10")).run()
    assert result.stdout == "x" * 10
    (first,) = [e for e in events if e.phase in FINAL and e.stage_index == 0]
    assert first.bytes_out == 1000


async def test_exit_outcome_follows_ok_codes_and_excused_sigpipe(
    anyio_backend: str, cuprum_stream_backend: str
) -> None:
    events: list[ExecEvent] = []
    with sh.observe(events.append):
        await sh.make(TRUE)().run()
        await sh.make(FALSE)().run()
        await sh.make(FALSE)().with_ok_codes([1]).run()
        await (sh.make(YES)() | sh.make(HEAD)("-n", "1")).run()
    finals = [(e.program, e.exit_code, e.outcome) for e in events if e.outcome is not None]
    assert finals[:3] == [("true", 0, "ok"), ("false", 1, "failed"), ("false", 1, "ok")]
    # `yes` is excused: it died of SIGPIPE because its reader finished.
    assert sorted(finals[3:]) == [("head", 0, "ok"), ("yes", -signal.SIGPIPE, "ok")]


async def test_timeout_ends_with_one_timeout_event(anyio_backend: str) -> None:
    events: list[ExecEvent] = []
    with sh.observe(events.append), pytest.raises(TimeoutExpired):
        await py("import time; print('x', flush=True); time.sleep(300)").run(timeout=0.5)
    assert_well_formed(events)
    assert [e.phase for e in events] == ["plan", "start", "stdout", "timeout"]
    assert events[-1].exit_code == -signal.SIGTERM
    assert [e.outcome for e in events] == [None, None, None, "timeout"]
    assert events[-1].duration is not None
    assert events[-1].duration >= 0.4


async def test_pipeline_timeout_ends_every_stage_with_a_timeout_event(
    anyio_backend: str, cuprum_stream_backend: str
) -> None:
    events: list[ExecEvent] = []
    pipeline = sh.make(SLEEP)("300") | sh.make(SLEEP)("300")
    with sh.observe(events.append), pytest.raises(TimeoutExpired):
        await pipeline.run(timeout=0.3)
    runs = by_run(events)
    assert len(runs) == 2
    for run in runs.values():
        assert_well_formed(run)
        assert run[-1].phase is EventPhase.TIMEOUT


async def test_cancel_ends_with_one_cancel_event(
    anyio_backend: str, leak_check: LeakChecker
) -> None:
    events: list[ExecEvent] = []
    with sh.observe(events.append), anyio.move_on_after(0.5) as scope:
        await py("import time; print('x', flush=True); time.sleep(300)").run()
    assert scope.cancelled_caught
    assert_well_formed(events)
    assert [e.phase for e in events] == ["plan", "start", "stdout", "cancel"]
    assert events[-1].exit_code == -signal.SIGTERM
    assert [e.outcome for e in events] == [None, None, None, "cancelled"]


async def test_cancelled_pipeline_ends_every_stage_with_a_cancel_event(
    anyio_backend: str, cuprum_stream_backend: str, leak_check: LeakChecker
) -> None:
    events: list[ExecEvent] = []
    with sh.observe(events.append), anyio.move_on_after(0.3) as scope:
        await (sh.make(SLEEP)("300") | sh.make(CAT)() | sh.make(CAT)()).run()
    assert scope.cancelled_caught
    runs = by_run(events)
    assert len(runs) == 3
    for run in runs.values():
        assert_well_formed(run)
        assert run[-1].phase is EventPhase.CANCEL


async def test_lines_ends_with_an_exit_event(anyio_backend: str) -> None:
    events: list[ExecEvent] = []
    with sh.observe(events.append):
        got = [line async for line in sh.make(ECHO)("a\nb").lines()]
    assert got == ["a", "b"]
    assert [e.phase for e in events] == ["plan", "start", "stdout", "stdout", "exit"]


async def test_lines_emits_a_stdout_event_per_yielded_line(anyio_backend: str) -> None:
    events: list[ExecEvent] = []
    with sh.observe(events.append):
        got = [line async for line in unsafe.dynamic(["printf", "a\\r\\nb\\n\\nc"]).lines()]
    assert got == ["a", "b", "", "c"]
    assert lines_of(events, EventPhase.STDOUT) == got
    assert [e.phase for e in events[:2]] == ["plan", "start"]


async def test_open_emits_plan_start_and_exit(anyio_backend: str) -> None:
    events: list[ExecEvent] = []
    with sh.observe(events.append):
        async with sh.make(CAT)().open() as proc:
            assert proc.stdin is not None
            await proc.stdin.aclose()
    assert_well_formed(events)
    assert [e.phase for e in events] == ["plan", "start", "exit"]


async def test_a_failed_spawn_still_ends_with_a_final_event(
    anyio_backend: str, tmp_path: Path, leak_check: LeakChecker
) -> None:
    program = tmp_path / "not-an-executable"
    program.write_bytes(b"\x00\x01\x02 not a program")
    program.chmod(0o755)
    events: list[ExecEvent] = []
    with sh.observe(events.append), pytest.raises(OSError, match="Exec format error"):
        await unsafe.dynamic([program]).run()
    assert events
    assert events[0].phase is EventPhase.PLAN
    assert events[-1].phase in FINAL


# --- listeners ------------------------------------------------------------------


async def test_sync_and_async_listeners_see_the_same_events(anyio_backend: str) -> None:
    sync_seen: list[ExecEvent] = []
    async_seen: list[ExecEvent] = []

    async def listener(event: ExecEvent) -> None:
        await anyio.sleep(0)
        async_seen.append(event)

    with sh.observe(sync_seen.append), sh.observe(listener):
        await sh.make(ECHO)("a\nb").run()
    assert async_seen == sync_seen
    assert [e.phase for e in async_seen] == ["plan", "start", "stdout", "stdout", "exit"]


async def test_a_slow_async_listener_is_awaited_before_the_run_returns(
    anyio_backend: str,
) -> None:
    done: list[EventPhase] = []

    async def slow(event: ExecEvent) -> None:
        await anyio.sleep(0.01)
        done.append(event.phase)

    with sh.observe(slow):
        await sh.make(ECHO)("x").run()
    assert done == ["plan", "start", "stdout", "exit"]


async def test_events_are_frozen(anyio_backend: str) -> None:
    events: list[ExecEvent] = []
    with sh.observe(events.append):
        await sh.make(TRUE)().run()
    with pytest.raises(dataclasses.FrozenInstanceError):
        events[0].phase = EventPhase.EXIT  # type: ignore[misc]


async def test_observe_handle_detaches(anyio_backend: str) -> None:
    events: list[ExecEvent] = []
    handle = sh.observe(events.append)
    await sh.make(TRUE)().run()
    count = len(events)
    assert count == 3
    handle.detach()
    handle.detach()  # harmless
    await sh.make(TRUE)().run()
    assert len(events) == count


async def test_observe_handle_is_a_sync_and_async_context_manager(anyio_backend: str) -> None:
    events: list[ExecEvent] = []
    with sh.observe(events.append) as handle:
        await sh.make(TRUE)().run()
    assert handle is not None
    async with sh.observe(events.append):
        await sh.make(TRUE)().run()
    await sh.make(TRUE)().run()
    assert len(events) == 6


async def test_listeners_of_a_scope_see_only_its_runs_outer_first(anyio_backend: str) -> None:
    order: list[str] = []
    outer: list[ExecEvent] = []
    inner: list[ExecEvent] = []

    def outer_listener(event: ExecEvent) -> None:
        order.append("outer")
        outer.append(event)

    def inner_listener(event: ExecEvent) -> None:
        order.append("inner")
        inner.append(event)

    with sh.observe(outer_listener):
        with sh.scoped():
            sh.observe(inner_listener)  # lives as long as the scope
            await sh.make(TRUE)().run()
        await sh.make(FALSE)().run()
    assert [e.program for e in inner] == ["true"] * 3
    assert [e.program for e in outer] == ["true"] * 3 + ["false"] * 3
    assert order[:2] == ["outer", "inner"]


@pytest.mark.parametrize("phase", ["plan", "start", "stdout", "exit"])
@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_a_listener_that_raises_leaves_no_process_behind(
    anyio_backend: str, phase: str, kind: str, leak_check: LeakChecker
) -> None:
    marker = f"cuprum-test-{uuid.uuid4().hex}"
    seen: list[EventPhase] = []

    def check(event: ExecEvent) -> None:
        seen.append(event.phase)
        if event.phase == phase:
            raise RuntimeError(f"boom at {phase}")

    async def acheck(event: ExecEvent) -> None:
        await anyio.sleep(0)
        check(event)

    cmd = marked_sleeper(marker)
    if phase == "exit":
        cmd = py(f"# {marker}\nprint('ready')")
    with (
        sh.observe(check if kind == "sync" else acheck),
        anyio.fail_after(20),
        pytest.raises(RuntimeError, match=f"boom at {phase}"),
    ):
        await cmd.run()
    assert phase in seen
    if phase in ("start", "stdout"):
        # The run still ends with a last event, for listeners that hold state.
        assert seen[-1] == EventPhase.EXIT
    assert processes_with_marker(marker) == []
    if phase == "plan":
        assert EventPhase.START not in seen
