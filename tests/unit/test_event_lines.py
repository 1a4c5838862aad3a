"""Line events (SPEC section 8): exact lines, and no decoding without a listener."""

from __future__ import annotations

import copy
import dataclasses
import pickle
import time
import types
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cuprum import (
    CAT,
    ECHO,
    EventPhase,
    ExecEvent,
    SafeCmd,
    sh,
    unsafe,
)
from cuprum._capture import LineSplitter
from tests.helpers import assert_well_formed, lines_of, python_child

pytestmark = pytest.mark.usefixtures("no_registration_leaks")


def py(code: str) -> SafeCmd:
    return unsafe.dynamic(python_child(code))


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
    anyio_backend: str, cuprum_stream_backend: str, payload: bytes, expected: list[str]
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
    anyio_backend: str, cuprum_stream_backend: str, feed_calls: list[int]
) -> None:
    result = await py(CHATTY).run()
    assert result.stdout is not None
    assert len(result.stdout.splitlines()) == 2000
    pipeline = await (py(CHATTY) | sh.make(CAT)() | sh.make(CAT)()).run()
    assert pipeline.stdout == result.stdout
    assert feed_calls == []


async def test_hooks_alone_cause_no_line_decoding(
    anyio_backend: str, cuprum_stream_backend: str, feed_calls: list[int]
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
    anyio_backend: str, cuprum_stream_backend: str, feed_calls: list[int]
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


# --- lines are delivered whether or not the output is kept ------------------------


async def test_line_events_arrive_without_capture(
    anyio_backend: str, cuprum_stream_backend: str
) -> None:
    events: list[ExecEvent] = []
    code = "import sys\nfor i in range(3000): print(i)\nprint('oops', file=sys.stderr)"
    with sh.observe(events.append):
        result = await py(code).run(capture=False)
        piped = await (py(code) | sh.make(CAT)()).run(capture=False)
    assert (result.stdout, result.stderr) == (None, None)  # nothing kept
    assert piped.stdout is None
    single = [e for e in events if e.run_id == events[0].run_id]
    assert lines_of(single, EventPhase.STDOUT) == [str(i) for i in range(3000)]
    assert lines_of(single, EventPhase.STDERR) == ["oops"]
    last_stage = [e for e in events if e.pipeline_id is not None and e.stage_index == 1]
    assert lines_of(last_stage, EventPhase.STDOUT) == [str(i) for i in range(3000)]


@pytest.mark.parametrize("capture", [True, False], ids=["capture", "no-capture"])
async def test_many_lines_across_reads_give_one_event_each_with_the_run_fields(
    anyio_backend: str, cuprum_stream_backend: str, capture: bool, tmp_path: Path
) -> None:
    # About 1.2 MB: several reads, with lines cut at the read boundaries.
    count = 60_000
    path = tmp_path / "lines.txt"
    expected = [f"line {i} " + "x" * (i % 23) for i in range(count)]
    path.write_text("".join(f"{line}\n" for line in expected) + "tail")
    sync_seen: list[ExecEvent] = []
    async_seen: list[ExecEvent] = []

    async def async_listener(event: ExecEvent) -> None:
        async_seen.append(event)

    cmd = sh.make(CAT)(str(path))
    before = time.monotonic()
    with sh.observe(sync_seen.append), sh.observe(async_listener):
        result = await cmd.run(capture=capture)
    after = time.monotonic()
    assert sync_seen == async_seen
    lines = [e for e in sync_seen if e.phase is EventPhase.STDOUT]
    assert [e.line for e in lines] == [*expected, "tail"]
    assert_well_formed(sync_seen)
    start = next(e for e in sync_seen if e.phase is EventPhase.START)
    for event in lines:
        assert (event.run_id, event.pid, event.argv, event.program) == (
            start.run_id, result.pid, cmd.argv, cmd.program,
        )  # fmt: skip
        assert (event.pipeline_id, event.stage_index, event.cwd, event.host) == (
            None,
            0,
            None,
            None,
        )
        assert (event.exit_code, event.duration, event.ok, event.bytes_out) == (None,) * 4
    times = [e.time for e in lines]
    assert times == sorted(times)
    assert before <= times[0] <= times[-1] <= after
    assert result.stdout_bytes == (path.read_bytes() if capture else None)


def _event(**fields: object) -> ExecEvent:
    base: dict[str, Any] = {
        "phase": EventPhase.STDOUT, "run_id": "run-1", "pipeline_id": None, "stage_index": 0,
        "program": "cat", "argv": ("cat",), "cwd": None, "pid": 7, "time": 1.5,
        "tags": {"k": "v"},
    }  # fmt: skip
    return ExecEvent(**{**base, **fields})


def test_an_event_is_a_frozen_value_with_the_dataclass_protocol() -> None:
    event = _event(line="hello")
    assert event == _event(line="hello")
    assert event != _event(line="other")
    assert (event.exit_code, event.unsafe, event.remote_pgid) == (None, False, None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.line = "x"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del event.phase  # type: ignore[misc]
    assert dataclasses.is_dataclass(event)
    names = [f.name for f in dataclasses.fields(event)]
    assert names[:10] == ["phase", "run_id", "pipeline_id", "stage_index", "program", "argv",
                          "cwd", "pid", "time", "line"]  # fmt: skip
    assert len(names) == 18
    assert dataclasses.asdict(event)["line"] == "hello"
    assert dataclasses.asdict(event)["tags"] == {"k": "v"}
    changed = dataclasses.replace(event, line="bye", exit_code=3)
    assert (changed.line, changed.exit_code, changed.run_id) == ("bye", 3, "run-1")
    assert pickle.loads(pickle.dumps(event)) == event
    assert copy.deepcopy(event) == event
    assert repr(event).startswith("ExecEvent(phase=<EventPhase.STDOUT: 'stdout'>, run_id='run-1'")
    assert "line='hello'" in repr(event)
    hashable = _event(tags=types.MappingProxyType({}))
    with pytest.raises(TypeError):
        hash(hashable)  # a mappingproxy is not hashable, as with the dataclass
    assert _event(phase=EventPhase.EXIT, exit_code=0).outcome == "ok"
