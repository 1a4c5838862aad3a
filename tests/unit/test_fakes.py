"""cuprum.testing: fakes are processes to the engine, on every loop and backend."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import anyio
import pytest

from cuprum import (
    CAT,
    ECHO,
    GIT,
    HEAD,
    SLEEP,
    TR,
    WC,
    YES,
    CommandFailed,
    CuprumError,
    EventPhase,
    ExecEvent,
    ForbiddenProgramError,
    TimeoutExpired,
    run_concurrent,
    sh,
)
from cuprum.remote import SSHHost
from cuprum.testing import ANY, FakeProcesses, UnregisteredCommandError, fake_processes
from tests.helpers import LOOPS_WITH_UVLOOP, LeakChecker, thread_names

git = sh.make(GIT)
echo = sh.make(ECHO)
cat = sh.make(CAT)
tr = sh.make(TR)
wc = sh.make(WC)


def count_lines(data: bytes) -> str:
    """A fake `wc -l`."""
    return f"{data.count(NEWLINE)}\n"


NEWLINE = b"\n"


@pytest.fixture
def fake(leak_check: LeakChecker) -> Iterator[FakeProcesses]:
    with fake_processes() as fakes:
        yield fakes
    assert not [name for name in thread_names() if name.startswith("cuprum-fake")]


# --- routes and calls -------------------------------------------------------------


async def test_a_fake_gives_its_output_code_and_records_the_call(
    anyio_backend: str, fake: FakeProcesses, tmp_path: object
) -> None:
    route = fake.register(["git", "status", "--short"], stdout="M  a.txt\n", stderr=b"warn\n")
    result = await git("status", "--short").with_context(cwd="/nowhere", env={"K": "v"}).run()
    assert (result.stdout, result.stderr, result.exit_code, result.ok) == (
        "M  a.txt\n", "warn\n", 0, True,
    )  # fmt: skip
    assert route.call_count == 1
    [call] = fake.calls
    assert call == route.calls[0]
    assert (call.argv, call.cwd, call.stdin, call.host) == (
        ("git", "status", "--short"), "/nowhere", b"", None,
    )  # fmt: skip
    assert call.env["K"] == "v"
    assert "PATH" in call.env  # the environment the process would have had


async def test_patterns_any_ellipsis_order_and_times(
    anyio_backend: str, fake: FakeProcesses
) -> None:
    once = fake.register(["git", "log", ANY], stdout="first\n", times=1)
    rest = fake.register(["git", "log", ...], stdout="rest\n")
    assert (await git("log", "-1").run()).stdout == "first\n"
    assert (await git("log", "-1").run()).stdout == "rest\n"  # `once` is used up
    assert (await git("log").run()).stdout == "rest\n"  # ... matches no argument too
    assert (await git("log", "a", "b").run()).stdout == "rest\n"
    assert (once.call_count, rest.call_count) == (1, 3)
    with pytest.raises(UnregisteredCommandError):
        await git("status").run()


async def test_exit_codes_and_check(anyio_backend: str, fake: FakeProcesses) -> None:
    fake.register(["git", "push"], stderr="rejected\n", exit_code=1)
    result = await git("push").run()
    assert (result.exit_code, result.ok) == (1, False)
    with pytest.raises(CommandFailed) as caught:
        await git("push").run(check=True)
    assert caught.value.result.stderr == "rejected\n"


async def test_callable_output_receives_stdin(anyio_backend: str, fake: FakeProcesses) -> None:
    fake.register(["tr", "a-z", "A-Z"], stdout=lambda data: data.upper())
    fake.register(["wc", "-l"], stdout=count_lines)
    assert (await tr("a-z", "A-Z").run(stdin="abc\n")).stdout == "ABC\n"
    assert (await wc("-l").run(stdin=b"1\n2\n3\n")).stdout == "3\n"
    assert fake.calls[0].stdin == b"abc\n"


async def test_stdin_is_recorded_whole_with_fixed_output(
    anyio_backend: str, fake: FakeProcesses
) -> None:
    fake.register(["cat"], stdout="ignored input\n")
    payload = b"x" * (1 << 20)
    result = await cat().run(stdin=payload)
    assert result.stdout == "ignored input\n"
    assert fake.calls[0].stdin == payload


async def test_an_output_callable_that_raises_reaches_the_caller(
    anyio_backend: str, fake: FakeProcesses
) -> None:
    def broken(data: bytes) -> bytes:
        raise RuntimeError("bug in the test's fake")

    fake.register(["cat"], stdout=broken)
    with pytest.raises(RuntimeError, match="bug in the test's fake"):
        await cat().run(stdin=b"x")


def test_register_refuses_nonsense() -> None:
    fakes = FakeProcesses()
    with pytest.raises(ValueError, match="last"):
        fakes.register(["git", ..., "x"])
    with pytest.raises(ValueError, match="program"):
        fakes.register([])
    with pytest.raises(TypeError):
        fakes.register(["git", 3])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        fakes.register(["git"], stdout=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="delay"):
        fakes.register(["git"], delay=-1)
    with pytest.raises(ValueError, match="times"):
        fakes.register(["git"], times=0)


# --- unregistered commands and scoping ------------------------------------------


async def test_unregistered_command_names_argv_and_patterns(
    anyio_backend: str, fake: FakeProcesses
) -> None:
    fake.register(["git", "status"])
    with pytest.raises(UnregisteredCommandError) as caught:
        await echo("hi").run()
    assert isinstance(caught.value, CuprumError)
    assert "['echo', 'hi']" in str(caught.value)
    assert "['git', 'status']" in str(caught.value)


async def test_allow_unregistered_runs_for_real(anyio_backend: str) -> None:
    with fake_processes(allow_unregistered=True) as fake:
        fake.register(["git", ...], stdout="fake\n")
        assert (await echo("real").run()).stdout == "real\n"
        assert (await git("anything").run()).stdout == "fake\n"
    assert [call.argv[0] for call in fake.calls] == ["git"]


async def test_inner_block_wins_and_outside_nothing_is_faked(anyio_backend: str) -> None:
    with fake_processes() as outer:
        outer.register(["echo", ...], stdout="outer\n")
        with fake_processes() as inner:
            inner.register(["echo", ...], stdout="inner\n")
            assert (await echo("x").run()).stdout == "inner\n"
        assert (await echo("x").run()).stdout == "outer\n"
    assert (await echo("x").run()).stdout == "x\n"


async def test_tasks_started_inside_are_faked(anyio_backend: str, fake: FakeProcesses) -> None:
    fake.register(["echo", ...], stdout="fake\n")
    outputs: list[str | None] = []

    async def one() -> None:
        outputs.append((await echo("x").run()).stdout)

    async with anyio.create_task_group() as tg:
        for _ in range(3):
            tg.start_soon(one)
    assert outputs == ["fake\n"] * 3


def test_run_sync_is_faked_on_both_loops() -> None:
    with fake_processes() as fake:
        fake.register(["git", "rev-parse", "HEAD"], stdout="abc123\n")
        for loop in ("asyncio", "trio"):
            assert git("rev-parse", "HEAD").run_sync(backend=loop).stdout == "abc123\n"
    assert len(fake.calls) == 2


async def test_scope_allowlist_and_defaults_apply_to_fakes(
    anyio_backend: str, fake: FakeProcesses
) -> None:
    fake.register(["git", ...])
    with sh.scoped(allowlist={GIT}, env={"FROM_SCOPE": "1"}, cwd="/srv"):
        await git("status").run()
        with pytest.raises(ForbiddenProgramError):
            await echo("no").run()
    assert fake.calls[0].env["FROM_SCOPE"] == "1"
    assert fake.calls[0].cwd == "/srv"


# --- the engine's paths -----------------------------------------------------------


async def test_open_sends_stdin_reads_stdout_and_waits(
    anyio_backend: str, fake: FakeProcesses
) -> None:
    fake.register(["tr", "a-z", "A-Z"], stdout=lambda data: data.upper())
    async with tr("a-z", "A-Z").open() as proc:
        assert proc.stdin is not None
        assert proc.stdout is not None
        await proc.stdin.send(b"hello")
        await proc.stdin.aclose()
        assert await proc.stdout.receive() == b"HELLO"
        assert await proc.wait() == 0
    assert fake.calls[0].stdin == b"hello"


async def test_lines_of_a_fake(anyio_backend: str, fake: FakeProcesses) -> None:
    fake.register(["git", "log", ...], stdout="a\nb\nc")
    fake.register(["cat"], stdout=lambda data: data)
    assert [line async for line in git("log").lines()] == ["a", "b", "c"]
    assert [line async for line in cat().lines(stdin="x\ny\n")] == ["x", "y"]


async def test_run_concurrent_with_fakes(anyio_backend: str, fake: FakeProcesses) -> None:
    fake.register(["echo", ANY], stdout=lambda _: b"ok\n")
    results = await run_concurrent([echo(str(n)) for n in range(20)], limit=5)
    assert [r.stdout for r in results] == ["ok\n"] * 20
    assert sorted(call.argv[1] for call in fake.calls) == sorted(str(n) for n in range(20))


@pytest.mark.parametrize("anyio_backend", LOOPS_WITH_UVLOOP)
async def test_pipelines_mix_fake_and_real_stages_in_either_order(
    anyio_backend: object, cuprum_stream_backend: str
) -> None:
    leaks = LeakChecker()  # here: the loop's own descriptors exist by now
    with fake_processes(allow_unregistered=True) as fake:
        fake.register(["git", "log"], stdout="".join(f"line {n}\n" for n in range(50_000)))
        fake.register(["wc", "-l"], stdout=count_lines)
        first = await (git("log") | sh.make(HEAD)("-n", "3")).run()
        second = await (echo("a\nb") | wc("-l")).run()
        both = await (git("log") | wc("-l")).run()
    assert first.stdout == "line 0\nline 1\nline 2\n"
    assert first.ok  # the fake upstream lost its reader: excused like SIGPIPE
    assert second.stdout == "2\n"
    assert both.stdout == "50000\n"
    assert fake.calls[-1].stdin.count(b"\n") == 50_000
    leaks.assert_clean()


async def test_events_and_hooks_see_a_fake_as_a_run(
    anyio_backend: str, fake: FakeProcesses
) -> None:
    fake.register(["git", "log"], stdout="one\ntwo\n")
    events: list[ExecEvent] = []
    seen: list[tuple[str, int | None]] = []
    with (
        sh.observe(events.append),
        sh.after(lambda cmd, result: seen.append((cmd.program, result.exit_code))),
    ):
        await git("log").run(capture=False)
    phases = [event.phase for event in events]
    assert phases == [EventPhase.PLAN, EventPhase.START, EventPhase.STDOUT,
                      EventPhase.STDOUT, EventPhase.EXIT]  # fmt: skip
    assert [e.line for e in events if e.phase is EventPhase.STDOUT] == ["one", "two"]
    assert events[-1].ok
    assert events[1].pid == events[-1].pid
    assert seen == [("git", 0)]


async def test_delay_times_out_with_the_partial_output(
    anyio_backend: str, fake: FakeProcesses
) -> None:
    fake.register(["sleep", ANY], stdout="started\n", delay=60)
    with pytest.raises(TimeoutExpired) as caught:
        await sh.make(SLEEP)("60").run(timeout=0.2)
    result = caught.value.result
    assert result.stdout == "started\n"
    assert result.exit_code == -signal.SIGTERM


async def test_cancelling_a_fake_ends_it(anyio_backend: str, fake: FakeProcesses) -> None:
    fake.register(["sleep", ANY], delay=60)
    with anyio.move_on_after(0.2) as scope:
        await sh.make(SLEEP)("60").run()
    assert scope.cancelled_caught


async def test_a_fake_writing_forever_into_head_dies_of_sigpipe(
    anyio_backend: str, cuprum_stream_backend: str, fake: FakeProcesses
) -> None:
    fake.register(["yes"], stdout=b"y\n" * (1 << 20))
    fake.register(["head", ...], stdout=b"y\n")
    result = await (sh.make(YES)() | sh.make(HEAD)("-n", "1")).run()
    assert result.ok
    assert result.stdout == "y\n"


async def test_remote_commands_are_faked_without_ssh(
    anyio_backend: str, fake: FakeProcesses
) -> None:
    fake.register(["uname", "-r"], stdout="6.1.0\n")
    async with SSHHost("web1.invalid", user="deploy") as web:  # connects nothing
        uname = sh.make("uname", catalogue=_catalogue_with("uname"))
        result = await uname("-r").on(web).with_context(env={"LANG": "C"}).run()
    assert (result.stdout, result.host) == ("6.1.0\n", "web1.invalid")
    assert fake.calls[0].host == "web1.invalid"
    assert fake.calls[0].env == {"LANG": "C"}


def _catalogue_with(program: str) -> object:
    from cuprum import Program, ProgramCatalogue, ProjectSettings

    return ProgramCatalogue(projects=(ProjectSettings(name="t", programs=(Program(program),)),))


async def test_clearing_calls_during_a_run_does_not_hang(
    anyio_backend: str, fake: FakeProcesses
) -> None:
    fake.register(["sleep", ANY], stdout="x\n", delay=0.2)
    async with anyio.create_task_group() as tg:
        tg.start_soon(sh.make(SLEEP)("1").run)
        await anyio.sleep(0.05)
        fake.calls.clear()
    assert fake.calls == []


async def test_send_signal_refuses_a_number_that_is_no_signal(
    anyio_backend: str, fake: FakeProcesses
) -> None:
    fake.register(["cat"])
    async with cat().open() as proc:
        with pytest.raises(ValueError, match="999"):
            proc.send_signal(999)
        assert proc.stdin is not None
        await proc.stdin.aclose()
