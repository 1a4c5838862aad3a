"""Single commands on a host of the suite's own sshd (`cuprum.remote`).

Argv, env and cwd, exit codes, errors naming the host, the three ways to
choose a host, stderr and its redirections, timeouts, open() and lines().
Shared fixtures and helpers: tests/unit/remote_helpers.py.
"""

from __future__ import annotations

import copy
import errno
import logging
import os
import select
import threading
from pathlib import Path

import anyio
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry

from cuprum import (
    CAT,
    ECHO,
    CommandFailed,
    EventPhase,
    ExecEvent,
    ExecutionContext,
    ProgramNotFoundError,
    TimeoutExpired,
    sh,
)
from cuprum.adapters import logging as cuprum_logging
from cuprum.adapters import otel, prometheus
from cuprum.remote import LOCAL, SSHHost
from devtools.loopback_sshd import ALIAS, SshServer
from tests.helpers import LeakChecker
from tests.unit import remote_helpers
from tests.unit.remote_helpers import AWKWARD, GRACE, STDIN_MODES, remote, running, sleepers, until

# Fixtures shared by the remote test files: pytest finds them by these names.
anyio_backend = remote_helpers.anyio_backend
host = remote_helpers.host
private_tempdir = remote_helpers.private_tempdir
sshd_server = remote_helpers.sshd_server


# --- commands on the host ------------------------------------------------------------


async def test_awkward_argv_round_trips_byte_for_byte(host: SSHHost) -> None:
    result = await remote("printf", "%s\\0", *AWKWARD).on(host).run(check=True)
    assert result.stdout_bytes == b"".join(arg.encode() + b"\0" for arg in AWKWARD)
    assert result.stderr == ""
    assert result.host == ALIAS


async def test_env_set_and_unset_and_cwd(host: SSHHost, sshd_server: SshServer) -> None:
    context = ExecutionContext(
        env={"CUPRUM_A": "x y'z $(id)", "HOME": None}, cwd=sshd_server.directory
    )
    script = 'printf "%s|%s|%s" "$CUPRUM_A" "${HOME-unset}" "$(pwd -P)"'
    result = await remote("sh", "-c", script).on(host).run(context=context, check=True)
    assert result.stdout == f"x y'z $(id)|unset|{sshd_server.directory.resolve()}"


async def test_env_names_must_be_shell_names(host: SSHHost) -> None:
    with pytest.raises(ValueError, match="A-B"):
        await sh.make(ECHO)().on(host).run(context=ExecutionContext(env={"A-B": "1"}))


@pytest.mark.parametrize("code", [0, 7, 255])
async def test_exit_codes(host: SSHHost, code: int) -> None:
    result = await remote("sh", "-c", f"echo out; echo err >&2; exit {code}").on(host).run()
    assert (result.exit_code, result.ok) == (code, code == 0)
    assert (result.stdout, result.stderr) == ("out\n", "err\n")


async def test_missing_program_names_the_host(host: SSHHost) -> None:
    leaks = LeakChecker()
    with pytest.raises(ProgramNotFoundError, match=ALIAS) as caught:
        await remote("cuprum-no-such-program", "x").on(host).run()
    assert caught.value.host == ALIAS
    assert "PATH=" in str(caught.value)
    with pytest.raises(ProgramNotFoundError, match=ALIAS):
        await remote("/no/such/program").on(host).run()
    leaks.assert_clean()


async def test_missing_cwd_names_the_host(host: SSHHost) -> None:
    leaks = LeakChecker()
    context = ExecutionContext(cwd="/no/such/dir")
    with pytest.raises(FileNotFoundError, match=f"does not exist on {ALIAS}") as caught:
        await sh.make(ECHO)("x").on(host).run(context=context)
    assert caught.value.errno == errno.ENOENT
    leaks.assert_clean()


async def test_three_ways_to_choose_the_host(host: SSHHost) -> None:
    events: list[ExecEvent] = []
    hostname = remote("sh", "-c", "echo $SSH_CONNECTION")
    with sh.observe(events.append):
        by_context = await hostname.run(context=ExecutionContext(host=host))
        with sh.scoped(host=host):
            by_scope = await hostname.run()
        by_on = await hostname.on(host).run()
        local = await hostname.run()
    for result in (by_context, by_scope, by_on):
        assert result.host == ALIAS
        assert result.stdout is not None
        assert "127.0.0.1" in result.stdout
    assert local.host is None
    finals = [e for e in events if e.phase is EventPhase.EXIT]
    assert [e.host for e in finals] == [ALIAS, ALIAS, ALIAS, None]
    assert all(e.remote_pgid for e in finals[:3])
    assert finals[3].remote_pgid is None


async def test_local_runs_here_inside_a_remote_scope(host: SSHHost) -> None:
    where = remote("sh", "-c", 'echo "${SSH_CONNECTION:-here}"')
    with sh.scoped(host=host):
        inherited = await where.run()
        by_on = await where.on(LOCAL).run()
        by_context = await where.run(context=ExecutionContext(host=LOCAL))
        mixed = await (where | sh.make(CAT)().on(LOCAL)).run()
        back_again = await where.on(LOCAL).run(context=ExecutionContext(host=host))
    assert inherited.host == ALIAS
    assert (by_on.host, by_on.stdout) == (None, "here\n")
    assert (by_context.host, by_context.stdout) == (None, "here\n")
    assert [s.host for s in mixed.stages] == [ALIAS, None]
    assert back_again.host is None  # the command's own choice wins over the run's context
    assert repr(LOCAL) == "cuprum.remote.LOCAL"
    assert type(LOCAL)() is LOCAL
    with sh.scoped(host=host), sh.scoped(host=LOCAL):
        assert (await where.run()).host is None
    assert copy.deepcopy(ExecutionContext(host=LOCAL)).host is LOCAL


@pytest.mark.parametrize("stdin", STDIN_MODES)
async def test_stderr_lines_and_echo_carry_no_markers(
    host: SSHHost, capfd: pytest.CaptureFixture[str], stdin: bytes | None
) -> None:
    # With stdin given, the wrapper's heartbeat (every 0.5 s) lands in the
    # middle of the unfinished line "two".
    events: list[ExecEvent] = []
    script = "echo one >&2; printf two >&2; sleep 0.7; echo ' three' >&2"
    with sh.observe(events.append):
        result = await remote("sh", "-c", script).on(host).run(echo=True, stdin=stdin)
    assert result.stderr == "one\ntwo three\n"
    lines = [e.line for e in events if e.phase is EventPhase.STDERR]
    assert lines == ["one", "two three"]
    assert capfd.readouterr().err == "one\ntwo three\n"


async def test_adapters_report_the_host(host: SSHHost, caplog: pytest.LogCaptureFixture) -> None:
    registry = CollectorRegistry()
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    caplog.set_level(logging.INFO, logger="cuprum")
    with (
        cuprum_logging.install(),
        prometheus.install(registry),
        otel.install(provider),
    ):
        await sh.make(ECHO)("x").on(host).run()
        await sh.make(ECHO)("y").run()
    labels = {"host": ALIAS, "program": "echo", "outcome": "ok"}
    assert registry.get_sample_value("cuprum_runs_total", labels) == 1.0
    assert registry.get_sample_value("cuprum_runs_total", {**labels, "host": ""}) == 1.0
    spans = exporter.get_finished_spans()
    assert [(s.attributes or {}).get("server.address") for s in spans] == [ALIAS, None]
    ends = [
        r for r in caplog.records if r.name == "cuprum" and r.__dict__["cuprum_phase"] == "exit"
    ]
    assert [r.__dict__["cuprum_host"] for r in ends] == [ALIAS, None]
    pgid = ends[0].__dict__["cuprum_remote_pgid"]
    assert isinstance(pgid, int)
    assert pgid > 1
    assert ends[1].__dict__["cuprum_remote_pgid"] is None


async def test_stderr_redirected_to_a_file_and_merged(host: SSHHost, tmp_path: Path) -> None:
    script = remote("sh", "-c", "echo a; echo b >&2; echo c")
    target = tmp_path / "err.txt"
    result = await script.on(host).run(stderr=target)
    assert (result.stdout, result.stderr) == ("a\nc\n", None)
    assert target.read_bytes() == b"b\n"
    merged = await script.on(host).run(stderr="stdout")
    assert merged.stdout == "a\nb\nc\n"


def pipe_has_room(write_fd: int) -> bool:
    return bool(select.select([], [write_fd], [], 0)[1])


async def test_stderr_to_a_full_pipe_of_the_caller_does_not_block_the_loop(
    host: SSHHost,
) -> None:
    # cuprum relays a remote stage's stderr (without the markers) to the
    # caller's pipe. While that pipe is full, the event loop must go on.
    size = 300_000
    read_fd, write_fd = os.pipe()
    got = bytearray()
    loop_saw_it_full = threading.Event()

    def drain() -> None:
        while len(got) < size:
            got.extend(os.read(read_fd, 1 << 16))

    def rescue() -> None:
        # A blocked loop cannot notice anything: unblock it, so the test
        # fails instead of hanging.
        if not loop_saw_it_full.wait(15):
            drain()

    rescuer = threading.Thread(target=rescue, daemon=True)
    rescuer.start()
    try:
        with os.fdopen(write_fd, "wb", buffering=0) as sink:
            cmd = remote("sh", "-c", f"head -c {size} /dev/zero >&2").on(host)
            async with anyio.create_task_group() as tg:
                tg.start_soon(lambda: cmd.run(stderr=sink, check=True))
                # Full: no free page left, so the write end is not writable
                # (a byte count would miss pages that partial writes left part-filled).
                while pipe_has_room(write_fd) and rescuer.is_alive():
                    await anyio.sleep(0.01)
                assert rescuer.is_alive(), "the event loop was blocked while the pipe was full"
                loop_saw_it_full.set()
                await anyio.to_thread.run_sync(drain)
    finally:
        loop_saw_it_full.set()
        rescuer.join()
        os.close(read_fd)
    assert bytes(got) == b"\0" * size


@pytest.mark.parametrize(
    "script",
    ["head -c 1000000 /dev/zero >&2; sleep 300", "head -c 3000000 /dev/zero >&2"],
    ids=["still-running", "exited"],
)
async def test_stderr_to_a_pipe_nobody_reads_still_times_out(host: SSHHost, script: str) -> None:
    # The relay of stderr to the caller's full pipe must not hold the run
    # past its timeout, nor change the caller's pipe (it stays blocking).
    read_fd, write_fd = os.pipe()
    leaks = LeakChecker()
    try:
        with os.fdopen(write_fd, "wb", buffering=0) as sink:
            cmd = remote("sh", "-c", script).on(host)
            with anyio.fail_after(20), pytest.raises(TimeoutExpired):
                await cmd.run(stderr=sink, timeout=2, context=ExecutionContext(cancel_grace=0.2))
            assert os.get_blocking(sink.fileno())
    finally:
        os.close(read_fd)
    leaks.assert_clean()


async def test_timeout_keeps_the_partial_output(host: SSHHost) -> None:
    with pytest.raises(TimeoutExpired) as caught:
        await (
            remote("sh", "-c", "echo partial; sleep 300")
            .on(host)
            .run(timeout=2, context=ExecutionContext(cancel_grace=GRACE))
        )
    assert caught.value.result.stdout == "partial\n"


async def test_open_and_lines(host: SSHHost) -> None:
    leaks = LeakChecker()
    async with sh.make(CAT)().on(host).open() as proc:
        assert proc.stdin is not None
        assert proc.stdout is not None
        await proc.stdin.send(b"hello\n")
        assert await proc.stdout.receive() == b"hello\n"
        await proc.stdin.aclose()
        assert await proc.wait() == 0
    async with remote("sh", "-c", "echo err >&2").on(host).open(stdin=None) as proc:
        assert proc.stderr is not None
        assert await proc.stderr.receive() == b"err\n"
    lines = [line async for line in remote("printf", "a\\nb\\nc").on(host).lines()]
    assert lines == ["a", "b", "c"]
    with pytest.raises(CommandFailed):
        async for _ in remote("sh", "-c", "echo x; exit 3").on(host).lines():
            pass
    leaks.assert_clean()


async def test_lines_with_a_background_holder_ends(host: SSHHost) -> None:
    script, groups = sleepers()
    holder = remote("sh", "-c", f"{script.split(' & ')[0]} & echo done")
    with sh.scoped(cancel_grace=GRACE):
        lines = [line async for line in holder.on(host).lines()]
    assert lines == ["done"]
    assert await until(lambda: not running(groups), GRACE + 1)


# --- a login shell that runs the wrapper itself ------------------------------------------


async def test_the_suites_bash_login_gets_exec_bin_sh(host: SSHHost) -> None:
    master = host._master  # pyright: ignore[reportPrivateUsage]
    assert master is not None
    assert master.direct is False  # bash reads .bashrc: the wrapper runs under /bin/sh


async def test_a_direct_login_runs_commands_pipelines_and_the_kill_protocol(
    sshd_server: SshServer,
) -> None:
    # As for an `sh` or `dash` login: no `exec /bin/sh`, same results.
    leaks = LeakChecker()
    async with remote_helpers.connect(sshd_server, direct=True) as own:
        result = await remote("printf", "%s\\0", *AWKWARD).on(own).run(check=True)
        assert result.stdout_bytes == b"".join(arg.encode() + b"\0" for arg in AWKWARD)
        context = ExecutionContext(env={"CUPRUM_X": "a b"}, cwd="/tmp", cancel_grace=GRACE)
        script = 'printf "%s|%s" "$CUPRUM_X" "$PWD"; exit 5'
        done = await remote("sh", "-c", script).on(own).run(context=context)
        assert (done.stdout, done.exit_code) == ("a b|/tmp", 5)
        piped = await (sh.make(ECHO)("one two") | remote("wc", "-w").on(own)).run()
        assert piped.stdout.strip() == "2"
        with pytest.raises(ProgramNotFoundError):
            await remote("cuprum-no-such-program").on(own).run()
        script, groups = sleepers()
        with pytest.raises(TimeoutExpired):
            await remote("sh", "-c", script).on(own).run(context=context, timeout=1)
        assert await until(lambda: not running(groups), GRACE + 2)
    leaks.assert_clean()
