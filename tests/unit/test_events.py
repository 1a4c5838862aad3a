"""Scopes, hooks and execution events (SPEC section 8), on asyncio and trio."""

from __future__ import annotations

import dataclasses
import os
import signal
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cuprum import (
    CAT,
    ECHO,
    ENV,
    FALSE,
    HEAD,
    PWD,
    SLEEP,
    TR,
    TRUE,
    YES,
    CommandFailed,
    CommandResult,
    EventPhase,
    ExecEvent,
    ForbiddenProgramError,
    SafeCmd,
    TimeoutExpired,
    sh,
    unsafe,
)
from cuprum._capture import LineSplitter
from tests.conftest import LeakChecker, child_pids, processes_with_marker, python_child

FINAL = {EventPhase.EXIT, EventPhase.TIMEOUT, EventPhase.CANCEL}
LINES = {EventPhase.STDOUT, EventPhase.STDERR}


def py(code: str) -> SafeCmd:
    return unsafe.dynamic(python_child(code))


def by_run(events: list[ExecEvent]) -> dict[str, list[ExecEvent]]:
    runs: dict[str, list[ExecEvent]] = defaultdict(list)
    for event in events:
        runs[event.run_id].append(event)
    return dict(runs)


def assert_well_formed(events: list[ExecEvent]) -> None:
    """plan, start, lines, then exactly one final event, last; times ordered."""
    phases = [e.phase for e in events]
    assert phases[:2] == [EventPhase.PLAN, EventPhase.START], phases
    assert phases[-1] in FINAL, phases
    assert all(p in LINES for p in phases[2:-1]), phases
    assert sum(p in FINAL for p in phases) == 1, phases
    assert len({e.run_id for e in events}) == 1
    times = [e.time for e in events]
    assert times == sorted(times)
    assert events[0].pid is None
    assert all(e.pid is not None and e.pid == events[1].pid for e in events[1:])
    assert events[-1].duration is not None
    assert events[-1].duration >= 0


def lines_of(events: list[ExecEvent], phase: EventPhase) -> list[str | None]:
    return [e.line for e in events if e.phase is phase]


def marked_sleeper(marker: str, *, output: bool = True) -> SafeCmd:
    say = "print('ready', flush=True); " if output else ""
    return py(f"# {marker}\nimport time; {say}time.sleep(300)")


# --- order and ids ------------------------------------------------------------


async def test_single_run_event_order_and_fields(anyio_backend: str, stream_backend: str) -> None:
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


async def test_pipeline_stages_share_pipeline_id(anyio_backend: str, stream_backend: str) -> None:
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


async def test_pumped_bytes_count_a_large_transfer(anyio_backend: str, stream_backend: str) -> None:
    events: list[ExecEvent] = []
    size = 3 * 1024 * 1024 + 17
    producer = py(f"import sys; sys.stdout.buffer.write(b'x' * {size})")
    with sh.observe(events.append):
        result = await (producer | sh.make(CAT)() | sh.make(CAT)()).run(capture=False)
    assert result.ok
    finals = {e.stage_index: e for e in events if e.phase in FINAL}
    assert [finals[i].bytes_out for i in range(3)] == [size, size, None]


async def test_bytes_out_counts_what_was_pumped_before_downstream_left(
    anyio_backend: str, stream_backend: str, request: pytest.FixtureRequest
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
    anyio_backend: str, stream_backend: str
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
    anyio_backend: str, stream_backend: str
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
    anyio_backend: str, stream_backend: str, leak_check: LeakChecker
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


# --- line events are exact ------------------------------------------------------

LINE_CASES = [
    pytest.param(b"a\nb", ["a", "b"], id="no-trailing-newline"),
    pytest.param(b"a\r\nb\r\n", ["a", "b"], id="crlf"),
    pytest.param(b"a\r\nb", ["a", "b"], id="crlf-no-trailing-newline"),
    pytest.param(b"ok\xff\xfe\nend", ["ok\ufffd\ufffd", "end"], id="invalid-utf8"),
    pytest.param(b"caf\xc3\n", ["caf\ufffd"], id="truncated-utf8-before-newline"),
    pytest.param("h\u00e9\u20ac\n".encode(), ["h\u00e9\u20ac"], id="utf8"),
    pytest.param(b"x\ry\n", ["x\ry"], id="lone-cr-is-not-a-line-end"),
    pytest.param(b"\n\n", ["", ""], id="empty-lines"),
    pytest.param(b"", [], id="no-output"),
]


@pytest.mark.parametrize(("payload", "expected"), LINE_CASES)
async def test_stdout_line_events_are_exact(
    anyio_backend: str, stream_backend: str, payload: bytes, expected: list[str]
) -> None:
    events: list[ExecEvent] = []
    with sh.observe(events.append):
        result = await sh.make(CAT)().run(stdin=payload)
    assert result.stdout_bytes == payload
    assert lines_of(events, EventPhase.STDOUT) == expected
    assert_well_formed(events)


@pytest.mark.parametrize(("payload", "expected"), LINE_CASES)
async def test_stderr_line_events_are_exact(
    anyio_backend: str, payload: bytes, expected: list[str]
) -> None:
    events: list[ExecEvent] = []
    cmd = py("import sys; sys.stderr.buffer.write(sys.stdin.buffer.read())")
    with sh.observe(events.append):
        result = await cmd.run(stdin=payload)
    assert result.stderr_bytes == payload
    assert lines_of(events, EventPhase.STDERR) == expected
    assert lines_of(events, EventPhase.STDOUT) == []


async def test_a_character_split_across_reads_is_decoded_whole(anyio_backend: str) -> None:
    events: list[ExecEvent] = []
    cmd = py(
        "import sys, time; out = sys.stdout.buffer\n"
        "out.write(b'\\xc3'); out.flush(); time.sleep(0.1)\n"
        "out.write(b'\\xa9\\r'); out.flush(); time.sleep(0.1)\n"
        "out.write(b'\\nz')"
    )
    with sh.observe(events.append):
        await cmd.run()
    assert lines_of(events, EventPhase.STDOUT) == ["\u00e9", "z"]


async def test_line_events_use_the_run_encoding(anyio_backend: str) -> None:
    events: list[ExecEvent] = []
    with sh.observe(events.append):
        await sh.make(CAT)().run(stdin=b"caf\xe9\n", encoding="latin-1")
    assert lines_of(events, EventPhase.STDOUT) == ["caf\u00e9"]


def expected_lines(data: bytes) -> list[str]:
    text = data.decode("utf-8", "replace")
    parts = text.split("\n")
    last = parts.pop()
    lines = [p[:-1] if p.endswith("\r") else p for p in parts]
    if last:
        lines.append(last)
    return lines


_chunks = st.lists(
    st.one_of(
        st.binary(max_size=40),
        st.sampled_from([b"\n", b"\r\n", b"\r", b"\xc3", b"\xa9", b"\xe2\x82", b"\xff"]),
    ),
    max_size=12,
)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(chunks=_chunks)
async def test_line_events_match_the_decoded_output(
    anyio_backend: str, chunks: list[bytes]
) -> None:
    payload = b"".join(chunks)
    events: list[ExecEvent] = []
    with sh.observe(events.append):
        result = await sh.make(CAT)().run(stdin=payload)
    assert result.stdout_bytes == payload
    assert lines_of(events, EventPhase.STDOUT) == expected_lines(payload)


# --- no decoding without a listener --------------------------------------------


@pytest.fixture
def feed_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count LineSplitter.feed and .finish calls (one entry per call)."""
    calls: list[int] = []
    feed = LineSplitter.feed
    finish = LineSplitter.finish

    def counting_feed(self: LineSplitter, data: bytes) -> list[str]:
        calls.append(len(data))
        return feed(self, data)

    def counting_finish(self: LineSplitter) -> list[str]:
        calls.append(0)
        return finish(self)

    monkeypatch.setattr(LineSplitter, "feed", counting_feed)
    monkeypatch.setattr(LineSplitter, "finish", counting_finish)
    return calls


CHATTY = "import sys\nfor i in range(2000): print(i); print(i, file=sys.stderr)"


async def test_no_line_decoding_without_a_listener(
    anyio_backend: str, stream_backend: str, feed_calls: list[int]
) -> None:
    result = await py(CHATTY).run()
    assert result.stdout is not None
    assert len(result.stdout.splitlines()) == 2000
    pipeline = await (py(CHATTY) | sh.make(CAT)() | sh.make(CAT)()).run()
    assert pipeline.stdout == result.stdout
    assert feed_calls == []


async def test_hooks_alone_cause_no_line_decoding(
    anyio_backend: str, stream_backend: str, feed_calls: list[int]
) -> None:
    seen: list[str] = []
    with (
        sh.before(lambda cmd: seen.append("before")),
        sh.after(lambda cmd, result: seen.append("after")),
    ):
        await py(CHATTY).run()
    assert seen == ["before", "after"]
    assert feed_calls == []


async def test_line_decoding_happens_with_a_listener(
    anyio_backend: str, stream_backend: str, feed_calls: list[int]
) -> None:
    events: list[ExecEvent] = []
    with sh.observe(events.append):
        await py(CHATTY).run()
    assert len(feed_calls) > 0
    assert sum(feed_calls) > 0
    assert len(lines_of(events, EventPhase.STDOUT)) == 2000
    assert len(lines_of(events, EventPhase.STDERR)) == 2000


async def test_a_detached_listener_stops_line_decoding(
    anyio_backend: str, feed_calls: list[int]
) -> None:
    handle = sh.observe(lambda event: None)
    await sh.make(ECHO)("x").run()
    assert feed_calls
    handle.detach()
    feed_calls.clear()
    await sh.make(ECHO)("x").run()
    assert feed_calls == []


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


# --- hooks ----------------------------------------------------------------------


async def test_before_and_after_hooks_sync_and_async(anyio_backend: str) -> None:
    calls: list[tuple[str, SafeCmd, CommandResult | None]] = []

    def before(cmd: SafeCmd) -> None:
        calls.append(("before", cmd, None))

    async def abefore(cmd: SafeCmd) -> None:
        await anyio.sleep(0)
        calls.append(("abefore", cmd, None))

    def after(cmd: SafeCmd, result: CommandResult) -> None:
        calls.append(("after", cmd, result))

    async def aafter(cmd: SafeCmd, result: CommandResult) -> None:
        await anyio.sleep(0)
        calls.append(("aafter", cmd, result))

    cmd = sh.make(ECHO)("hi")
    with sh.before(before), sh.before(abefore), sh.after(after), sh.after(aafter):
        result = await cmd.run()
    assert [name for name, _, _ in calls] == ["before", "abefore", "after", "aafter"]
    assert all(seen is cmd for _, seen, _ in calls)
    assert calls[2][2] == result
    assert calls[3][2] == result


async def test_hooks_run_around_the_events(anyio_backend: str) -> None:
    order: list[str] = []
    with (
        sh.before(lambda cmd: order.append("before")),
        sh.after(lambda cmd, result: order.append("after")),
        sh.observe(lambda event: order.append(event.phase)),
    ):
        await sh.make(TRUE)().run()
    assert order == ["before", "plan", "start", "exit", "after"]


async def test_hooks_run_once_per_pipeline_stage(anyio_backend: str) -> None:
    before: list[str] = []
    after: list[tuple[str, int | None]] = []
    with (
        sh.before(lambda cmd: before.append(cmd.program)),
        sh.after(lambda cmd, result: after.append((cmd.program, result.exit_code))),
    ):
        await (sh.make(ECHO)("x") | sh.make(CAT)()).run()
    assert before == ["echo", "cat"]
    assert after == [("echo", 0), ("cat", 0)]


async def test_after_hook_sees_a_failed_result_before_check_raises(anyio_backend: str) -> None:
    seen: list[CommandResult] = []
    with sh.after(lambda cmd, result: seen.append(result)), pytest.raises(CommandFailed):
        await sh.make(FALSE)().run(check=True)
    assert [r.exit_code for r in seen] == [1]


async def test_hook_handles_detach_and_work_as_context_managers(anyio_backend: str) -> None:
    calls: list[str] = []
    before = sh.before(lambda cmd: calls.append("before"))
    with sh.after(lambda cmd, result: calls.append("after")):
        await sh.make(TRUE)().run()
    await sh.make(TRUE)().run()
    before.detach()
    before.detach()
    await sh.make(TRUE)().run()
    async with sh.before(lambda cmd: calls.append("async-before")):
        await sh.make(TRUE)().run()
    await sh.make(TRUE)().run()
    assert calls == ["before", "after", "before", "async-before"]


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_a_before_hook_that_raises_spawns_nothing(
    anyio_backend: str, kind: str, tmp_path: Path, leak_check: LeakChecker
) -> None:
    flag = tmp_path / "spawned"
    events: list[ExecEvent] = []

    def hook(cmd: SafeCmd) -> None:
        raise PermissionError("not today")

    async def ahook(cmd: SafeCmd) -> None:
        await anyio.sleep(0)
        raise PermissionError("not today")

    children = child_pids()
    cmd = py(f"open({str(flag)!r}, 'w').close()")
    with (
        sh.observe(events.append),
        sh.before(hook if kind == "sync" else ahook),
        pytest.raises(PermissionError, match="not today"),
    ):
        await cmd.run()
    with sh.before(hook), pytest.raises(PermissionError, match="not today"):
        await (sh.make(ECHO)("x") | cmd).run()
    assert child_pids() == children
    assert not flag.exists()
    assert events == []


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_an_after_hook_that_raises_reaches_the_caller_child_reaped(
    anyio_backend: str, kind: str, leak_check: LeakChecker
) -> None:
    pids: list[int | None] = []

    def hook(cmd: SafeCmd, result: CommandResult) -> None:
        pids.append(result.pid)
        raise LookupError("after failed")

    async def ahook(cmd: SafeCmd, result: CommandResult) -> None:
        await anyio.sleep(0)
        hook(cmd, result)

    with sh.after(hook if kind == "sync" else ahook), pytest.raises(LookupError):
        await sh.make(ECHO)("x").run()
    (pid,) = pids
    assert pid is not None
    assert pid not in child_pids()
    assert not Path(f"/proc/{pid}").exists() or _not_my_child(pid)


def _not_my_child(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return True
    return int(stat.rpartition(b")")[2].split()[1]) != os.getpid()


async def test_after_hooks_run_for_lines(anyio_backend: str) -> None:
    seen: list[int | None] = []
    with sh.after(lambda cmd, result: seen.append(result.exit_code)):
        _ = [line async for line in sh.make(ECHO)("x").lines()]
    assert seen == [0]


async def test_before_hooks_run_for_lines(anyio_backend: str) -> None:
    seen: list[str] = []
    with sh.before(lambda cmd: seen.append(cmd.program)):
        _ = [line async for line in sh.make(ECHO)("x").lines()]
    assert seen == ["echo"]


# --- sh.scoped -------------------------------------------------------------------


def test_scoped_allowlist_narrows() -> None:
    with sh.scoped(allowlist={ECHO, CAT}):
        sh.make(ECHO)
        sh.make(CAT)
        with pytest.raises(ForbiddenProgramError, match="'true'") as caught:
            sh.make(TRUE)
        assert caught.value.program == "true"
    sh.make(TRUE)  # allowed again outside


@pytest.mark.parametrize("inner", [{ECHO, CAT}, None, set()])
def test_scoped_allowlist_never_widens(inner: set[str] | None) -> None:
    with sh.scoped(allowlist={ECHO}), sh.scoped(allowlist=inner):
        with pytest.raises(ForbiddenProgramError, match="'cat'") as caught:
            sh.make(CAT)
        assert caught.value.program == "cat"
        if inner is None or ECHO in inner:
            sh.make(ECHO)
        else:
            with pytest.raises(ForbiddenProgramError, match="'echo'"):
                sh.make(ECHO)


def test_forbidden_is_a_permission_error() -> None:
    with sh.scoped(allowlist=[]), pytest.raises(PermissionError):
        sh.make(ECHO)


async def test_scoped_timeout_default_applies(anyio_backend: str) -> None:
    with sh.scoped(timeout=0.3), pytest.raises(TimeoutExpired) as caught:
        await sh.make(SLEEP)("300").run()
    assert caught.value.timeout == pytest.approx(0.3)


async def test_run_timeout_overrides_the_scope(anyio_backend: str) -> None:
    with sh.scoped(timeout=0.05):
        result = await sh.make(SLEEP)("0.3").run(timeout=10)
    assert result.ok


async def test_scoped_env_cwd_and_tags_apply(anyio_backend: str, tmp_path: Path) -> None:
    events: list[ExecEvent] = []
    with (
        sh.scoped(env={"CUPRUM_SCOPED": "outer", "KEEP": "k"}, tags={"a": "1", "b": "1"}),
        sh.scoped(env={"CUPRUM_SCOPED": "inner"}, cwd=tmp_path, tags={"b": "2"}),
        sh.observe(events.append),
    ):
        env = await sh.make(ENV)().run()
        pwd = await sh.make(PWD)().run()
        overridden = await sh.make(ENV)().with_context(env={"CUPRUM_SCOPED": "cmd"}).run()
    assert env.stdout is not None
    assert "CUPRUM_SCOPED=inner\n" in env.stdout
    assert "KEEP=k\n" in env.stdout
    assert pwd.stdout == f"{tmp_path}\n"
    assert overridden.stdout is not None
    assert "CUPRUM_SCOPED=cmd\n" in overridden.stdout
    assert {e.cwd for e in events} == {str(tmp_path)}
    assert all(dict(e.tags) == {"a": "1", "b": "2"} for e in events)


async def test_scope_defaults_do_not_outlive_the_block(anyio_backend: str) -> None:
    events: list[ExecEvent] = []
    with sh.scoped(tags={"a": "1"}, env={"CUPRUM_SCOPED": "x"}):
        pass
    with sh.observe(events.append):
        result = await sh.make(ENV)().run()
    assert result.stdout is not None
    assert "CUPRUM_SCOPED" not in result.stdout
    assert all(dict(e.tags) == {} for e in events)


async def test_scope_follows_tasks_started_inside_it(anyio_backend: str) -> None:
    events: list[ExecEvent] = []
    errors: list[ForbiddenProgramError] = []

    async def child() -> None:
        try:
            sh.make(CAT)
        except ForbiddenProgramError as exc:
            errors.append(exc)
        await sh.make(ECHO)("from a task").run()

    with sh.scoped(allowlist={ECHO}, tags={"scope": "outer"}), sh.observe(events.append):
        async with anyio.create_task_group() as tg:
            tg.start_soon(child)
            tg.start_soon(child)
    assert [e.program for e in errors] == ["cat", "cat"]
    assert lines_of(events, EventPhase.STDOUT) == ["from a task", "from a task"]
    assert all(dict(e.tags) == {"scope": "outer"} for e in events)


async def test_scope_does_not_leak_into_sibling_tasks(anyio_backend: str) -> None:
    scoped_events: list[ExecEvent] = []
    sibling_results: list[CommandResult] = []
    inside = anyio.Event()
    sibling_done = anyio.Event()

    async def scoped_task() -> None:
        with sh.scoped(allowlist={ECHO}, tags={"mine": "yes"}), sh.observe(scoped_events.append):
            inside.set()
            await sibling_done.wait()
            await sh.make(ECHO)("scoped").run()
            with pytest.raises(ForbiddenProgramError):
                sh.make(CAT)

    async def sibling() -> None:
        await inside.wait()
        builder = sh.make(CAT)  # the other task's allowlist does not apply here
        sibling_results.append(await builder().run(stdin=b"sibling"))
        sibling_done.set()

    with anyio.fail_after(20):
        async with anyio.create_task_group() as tg:
            tg.start_soon(scoped_task)
            tg.start_soon(sibling)
    assert sibling_results[0].stdout == "sibling"
    assert {e.program for e in scoped_events} == {"echo"}
    assert all(dict(e.tags) == {"mine": "yes"} for e in scoped_events)


async def test_hooks_of_a_scope_follow_its_tasks_and_end_with_it(anyio_backend: str) -> None:
    seen: list[str] = []

    async def child() -> None:
        await sh.make(TRUE)().run()

    with sh.scoped():
        sh.before(lambda cmd: seen.append(cmd.program))
        async with anyio.create_task_group() as tg:
            tg.start_soon(child)
    await sh.make(FALSE)().run()
    assert seen == ["true"]


@pytest.fixture(autouse=True)
def _no_registration_leaks() -> Iterator[None]:
    """Every test must leave the root scope without hooks or listeners."""
    from cuprum._context import ROOT_SCOPE

    yield
    leftovers = [list(r) for r in (ROOT_SCOPE.before, ROOT_SCOPE.after, ROOT_SCOPE.observers)]
    for registry in (ROOT_SCOPE.before, ROOT_SCOPE.after, ROOT_SCOPE.observers):
        registry.clear()
    assert leftovers == [[], [], []], "a test left a hook or listener registered"


async def test_pipeline_events_of_a_scope_carry_its_tags(anyio_backend: str) -> None:
    events: list[ExecEvent] = []
    with sh.scoped(tags={"job": "p"}), sh.observe(events.append):
        await (sh.make(ECHO)("x") | sh.make(CAT)()).run()
    assert events
    assert all(dict(e.tags) == {"job": "p"} for e in events)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_scope_follows_run_sync(backend: str) -> None:
    events: list[ExecEvent] = []
    with sh.scoped(allowlist={ECHO}, tags={"k": "v"}), sh.observe(events.append):
        sh.make(ECHO)("x").run_sync(backend=backend)

        async def build_forbidden() -> None:
            sh.make(CAT)

        with pytest.raises(ForbiddenProgramError, match="'cat'"):
            anyio.run(build_forbidden, backend=backend)
    assert [e.phase for e in events] == ["plan", "start", "stdout", "exit"]
    assert all(dict(e.tags) == {"k": "v"} for e in events)


async def test_after_hooks_run_for_open(anyio_backend: str) -> None:
    seen: list[int | None] = []
    with sh.after(lambda cmd, result: seen.append(result.exit_code)):
        async with sh.make(CAT)().open() as proc:
            assert proc.stdin is not None
            await proc.stdin.aclose()
    assert seen == [0]


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
