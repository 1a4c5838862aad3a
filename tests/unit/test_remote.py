"""Remote hosts over OpenSSH (`cuprum.remote`), against the suite's own sshd.

The sshd runs on this machine, so "remote" processes are visible here:
kill tests look for them in /proc (ignoring zombies, which init reaps
lazily on some machines).
"""

from __future__ import annotations

import copy
import errno
import hashlib
import logging
import os
import random
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry

from cuprum import (
    CAT,
    ECHO,
    HEAD,
    SHA256SUM,
    YES,
    CommandFailed,
    EventPhase,
    ExecEvent,
    ExecutionContext,
    ProgramNotFoundError,
    RemoteConnectionError,
    SafeCmd,
    TimeoutExpired,
    run_concurrent,
    sh,
    unsafe,
)
from cuprum import _remote_master as remote_master
from cuprum._fdstream import buffered
from cuprum._remote_wrapper import MarkerFilter, remote_command, validate_env_name
from cuprum.adapters import logging as cuprum_logging
from cuprum.adapters import otel, prometheus
from cuprum.remote import LOCAL, SSHHost
from tests.conftest import (
    LOOPS,
    ROOT,
    LeakChecker,
    ProcInfo,
    doc_examples,
    processes,
    processes_with_marker,
    run_example,
)
from tests.remote_fixtures import ALIAS, BAD_SHELL_ALIAS, SshServer, serve

GRACE = 0.5
STDIN_MODES = [pytest.param(b"x", id="stdin"), pytest.param(None, id="lifeline")]


@pytest.fixture(scope="session")
def sshd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshServer]:
    """The suite's own sshd on 127.0.0.1 (see tests/remote_fixtures.py)."""
    yield from serve(tmp_path_factory)


@pytest.fixture(scope="module", params=LOOPS)
def anyio_backend(request: pytest.FixtureRequest) -> object:
    """Module scope: one SSHHost serves all the tests of a loop."""
    return request.param


@pytest.fixture(scope="module")
async def host(sshd_server: SshServer) -> AsyncIterator[SSHHost]:
    async with SSHHost(ALIAS, config_file=sshd_server.config) as connected:
        yield connected


def remote(*argv: str):
    return unsafe.dynamic(argv)


def live(argv: list[str]) -> list[int]:
    """Live (not zombie) processes whose argv is exactly ``argv``."""
    wanted = b"\0".join(arg.encode() for arg in argv) + b"\0"
    return [i.pid for i in processes(cmdlines=True).values() if i.cmdline == wanted and i.live]


async def until(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await anyio.sleep(0.02)
    return predicate()


def sleepers() -> tuple[str, list[list[str]]]:
    """A `sh -c 'sleep N & sleep N+1'` script with fresh numbers, and its sleeps."""
    n = random.randrange(3_000_000, 3_900_000)
    return f"sleep {n} & sleep {n + 1}", [["sleep", str(n)], ["sleep", str(n + 1)]]


def running(groups: list[list[str]]) -> list[int]:
    return [pid for argv in groups for pid in live(argv)]


@pytest.fixture(autouse=True)
def private_tempdir(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A short temporary directory of this test's own, for the socket directories.

    Other test runs on the machine make theirs in /tmp; `socket_dirs` only
    looks here. (pytest's own base directory is fixed first, outside it.)
    """
    tmp_path_factory.getbasetemp()
    directory = tempfile.mkdtemp(prefix="cu-", dir="/tmp")
    monkeypatch.setattr(tempfile, "tempdir", directory)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def socket_dirs() -> set[str]:
    root = tempfile.gettempdir()
    return {os.path.join(root, name) for name in os.listdir(root) if name.startswith("cuprum-ssh-")}


# --- the wrapper, without ssh ------------------------------------------------------

AWKWARD = [
    "two words",
    "it's",
    'say "hi"',
    "$(id)",
    "`id`",
    "*",
    "-n",
    "--",
    "new\nline",
    "back\\slash",
    "tab\there",
    "ünïcödé ✓",
    "",
    "%s %d",
    ";|&<>",
    "~",
]


# The wrapper is POSIX sh: check it under every such shell this machine has.
SHELLS = [
    pytest.param(path, id=os.path.basename(path))
    for path in ("/bin/sh", "/bin/dash", "/bin/bash", "/bin/ksh", "/bin/mksh", "/bin/zsh")
    if os.path.exists(path)
    and (path == "/bin/sh" or os.path.realpath(path) != os.path.realpath("/bin/sh"))
]


def run_wrapper(
    argv: list[str], *, shell: str = "/bin/sh", **kwargs: object
) -> tuple[int, bytes, bytes]:
    """Run the wrapper under ``shell`` (as sshd would: a new session)."""
    options: dict[str, object] = {
        "token": "t0k",
        "lifeline": False,
        "merge_stderr": False,
        "grace": 0.2,
        "cwd": None,
        "env": None,
    }
    options.update(kwargs)
    command = remote_command(argv, **options)  # pyright: ignore[reportArgumentType]
    command = command.replace("exec /bin/sh ", f"exec {shell} ", 1)
    done = subprocess.run(
        ["/bin/sh", "-c", command],
        input=b"",
        capture_output=True,
        start_new_session=True,
        check=False,
        timeout=30,
    )
    return done.returncode, done.stdout, done.stderr


def test_wrapper_round_trips_awkward_argv_byte_for_byte() -> None:
    code, out, err = run_wrapper(["printf", "%s\\0", *AWKWARD])
    assert code == 0, err
    assert out == b"".join(arg.encode() + b"\0" for arg in AWKWARD)
    found = MarkerFilter("t0k")
    assert found.feed(err) == b""
    assert found.exit_code == 0
    assert found.pgid is not None


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.text(st.characters(exclude_categories=["Cs"], min_codepoint=1)), min_size=1, max_size=4
    )
)
def test_wrapper_round_trips_any_argv(args: list[str]) -> None:
    for shell in SHELLS:
        code, out, _ = run_wrapper(["printf", "%s\\0", *args], shell=str(shell.values[0]))
        assert code == 0
        assert out == b"".join(arg.encode("utf-8", "surrogateescape") + b"\0" for arg in args)


@pytest.mark.parametrize("shell", SHELLS)
def test_wrapper_applies_env_and_cwd(tmp_path: Path, shell: str) -> None:
    env = {"CUPRUM_A": "x y'z\n$(id)", "CUPRUM_GONE": None, "HOME": None}
    code, out, _ = run_wrapper(
        ["sh", "-c", 'printf "%s|%s|%s|" "$CUPRUM_A" "${HOME-unset}" "$PWD"'],
        env=env,
        cwd=str(tmp_path),
        shell=shell,
    )
    assert code == 0
    assert out == f"x y'z\n$(id)|unset|{tmp_path}|".encode()


# Short names a wrapper is tempted to use for itself, and IFS, which a PATH
# lookup is tempted to change.
PLAIN_NAMES = ["t", "m", "g", "d", "n", "f", "o", "x", "r", "w", "c", "k", "IFS", "_"]


@pytest.mark.parametrize("shell", SHELLS)
def test_env_names_cannot_change_how_the_wrapper_works(tmp_path: Path, shell: str) -> None:
    env: dict[str, str | None] = {name: f"v-{name} /nonexistent" for name in PLAIN_NAMES}
    env["n"] = "0"  # would stop the env loop early
    env["d"] = "/nonexistent"  # would send the cwd check elsewhere
    script = "printf '%s|' " + " ".join(f'"${n}"' for n in PLAIN_NAMES if n not in ("_", "IFS"))
    code, out, err = run_wrapper(["sh", "-c", script], env=env, cwd=str(tmp_path), shell=shell)
    markers = MarkerFilter("t0k")
    assert markers.feed(err) == b""
    assert (code, markers.exit_code, markers.problem) == (0, 0, None)
    expected = "".join(f"{env[n]}|" for n in PLAIN_NAMES if n not in ("_", "IFS"))
    assert out.decode() == expected
    # Shells reset IFS at startup, so look at it from a program that is not one.
    code, out, _ = run_wrapper(["env"], env=env, shell=shell)
    assert code == 0
    assert b"\nIFS=v-IFS /nonexistent\n" in b"\n" + out


@pytest.mark.parametrize("shell", SHELLS)
def test_a_path_without_sleep_does_not_break_the_watchers(shell: str) -> None:
    # The caller's PATH is the command's; the wrapper's heartbeat still
    # sleeps between beats (a busy loop would flood stderr with markers).
    code, _, err = run_wrapper(["/bin/sleep", "1"], env={"PATH": "/nonexistent"}, shell=shell)
    assert code == 0
    assert err.count(b" hb\n") < 10, err[:200]  # one per half second, not thousands


@pytest.mark.parametrize("name", ["__cu_t", "OPTIND", "SHELLOPTS", "BASH_VERSINFO"])
def test_env_names_of_the_wrapper_and_the_shell_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match=name):
        validate_env_name(name, "example")


@pytest.mark.parametrize(
    ("argv", "cwd", "problem", "code"),
    [
        (["cuprum-no-such-program"], None, "notfound", 127),
        (["/no/such/program"], None, "notfound", 127),
        (["{plain}"], None, "noexec", 126),
        (["true"], "/no/such/dir", "nocwd", 127),
        (["true"], "{plain}", "notdir", 127),
    ],
)
def test_wrapper_reports_problems(
    argv: list[str], cwd: str | None, problem: str, code: int, tmp_path: Path
) -> None:
    plain = tmp_path / "plain"
    plain.write_text("not a program")
    argv = [arg.format(plain=plain) for arg in argv]
    cwd = cwd.format(plain=plain) if cwd else None
    got, _, err = run_wrapper(argv, cwd=cwd)
    found = MarkerFilter("t0k")
    found.feed(err)
    assert (got, found.problem, found.exit_code) == (code, problem, None)


def test_wrapper_runs_programs_not_builtins() -> None:
    # dash's builtin echo would print "-e x"; /bin/echo takes -e as an option.
    code, out, _ = run_wrapper(["echo", "-e", "a\\tb"])
    assert (code, out) == (0, b"a\tb\n")


def test_wrapper_merges_stderr_in_order() -> None:
    code, out, err = run_wrapper(["sh", "-c", "echo 1; echo 2 >&2; echo 3"], merge_stderr=True)
    assert code == 0
    assert out == b"1\n2\n3\n"
    assert MarkerFilter("t0k").feed(err) == b""


def test_remote_string_is_quoted_words_only() -> None:
    command = remote_command(
        ["echo", "$(id)"], token="t", lifeline=True, merge_stderr=False, grace=1, cwd=None,
        env={"A": "1", "B": None},
    )  # fmt: skip
    words = shlex.split(command)
    assert words[:3] == ["exec", "/bin/sh", "-c"]
    assert words[4:] == ["cuprum", "t", "l", "1", "", "2", "A=1", "B", "echo", "$(id)"]


def test_marker_filter_strips_markers_split_anywhere() -> None:
    stream = (
        b"partial \x1ecuprum-tok pgid 42\nline\n\x1ecuprum-tok hb\n"
        b"\x1ecuprum-other exit 3\n\x1eno marker\n\x1ecuprum-tok exit 7\ntail"
    )
    expected = b"partial line\n\x1ecuprum-other exit 3\n\x1eno marker\ntail"
    for size in (1, 2, 3, 5, 7, 64, len(stream)):
        found = MarkerFilter("tok")
        out = b"".join(found.feed(stream[i : i + size]) for i in range(0, len(stream), size))
        out += found.finish()
        assert out == expected, size
        assert (found.pgid, found.exit_code) == (42, 7)


def test_marker_filter_gives_back_an_unfinished_prefix_at_the_end() -> None:
    found = MarkerFilter("tok")
    assert found.feed(b"abc\x1ecupr") == b"abc"
    assert found.finish() == b"\x1ecupr"


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"destination": "-oProxyCommand=touch /tmp/x"}, ValueError),
        ({"destination": "host name"}, ValueError),
        ({"destination": "host\nname"}, ValueError),
        ({"destination": ""}, TypeError),
        ({"destination": "h", "host_keys": "off"}, ValueError),
        ({"destination": "h", "max_sessions": 0}, ValueError),
        ({"destination": "h", "port": 70000}, ValueError),
        ({"destination": "h", "user": "-l"}, ValueError),
        ({"destination": "h", "options": {"ControlPath": "/tmp/x"}}, ValueError),
        ({"destination": "h", "options": {"StrictHostKeyChecking": "no"}}, ValueError),
        ({"destination": "h", "options": {"ConnectTimeout": 3}}, ValueError),
        ({"destination": "h", "options": {"Bad Name": "x"}}, ValueError),
        ({"destination": "h", "options": {"ProxyJump": "a\nb"}}, ValueError),
    ],
)
def test_sshhost_refuses_bad_arguments(kwargs: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        SSHHost(**kwargs)  # pyright: ignore[reportArgumentType]


async def test_kill_batches_leave_no_stale_state_when_a_caller_is_cancelled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Only a fake `ssh` can hold a kill session open at the right moment.
    sent: list[str] = []
    release = anyio.Event()

    async def fake_call_ssh(argv: list[str], *_: object) -> tuple[int, bytes, bytes]:
        sent.append(argv[-1])
        await release.wait()
        return 0, b"", b""

    monkeypatch.setattr(remote_master, "call_ssh", fake_call_ssh)
    monkeypatch.setattr(remote_master.Master, "running", property(lambda _: True))
    master = remote_master.Master(
        "example", common=(), strict="yes", max_sessions=2, connect_timeout=1.0
    )
    master.socket = "/nonexistent/socket"
    answers: dict[int, bool] = {}

    async def kill(pgid: int) -> None:
        answers[pgid] = await master.kill_group("TERM", pgid)

    async with anyio.create_task_group() as tg:
        async with anyio.create_task_group() as doomed:
            async with master._control:  # pyright: ignore[reportPrivateUsage]
                tg.start_soon(kill, 100)
                doomed.start_soon(kill, 200)
                await anyio.wait_all_tasks_blocked()
            # The first caller takes the lock and sends both groups in one
            # session; the second is cancelled while that session runs.
            await anyio.wait_all_tasks_blocked()
            assert sent == ["kill -TERM -100 -200 2>/dev/null; :"]
            doomed.cancel_scope.cancel()
        release.set()
    # Whichever caller sent the batch, 100 got its kill and nothing is left over.
    assert answers == {100: True}
    assert sent[0] == "kill -TERM -100 -200 2>/dev/null; :"
    assert sent[1:] in ([], ["kill -TERM -100 2>/dev/null; :"])
    assert (master._sent, master._waiting) == ({}, {})  # pyright: ignore[reportPrivateUsage]
    assert not any(master._pending.values())  # pyright: ignore[reportPrivateUsage]
    # A later kill of the same group is sent again, not answered from a stale entry.
    release = anyio.Event()
    release.set()
    assert await master.kill_group("TERM", 200)
    assert sent[-1] == "kill -TERM -200 2>/dev/null; :"


def test_public_names() -> None:
    import cuprum
    import cuprum.remote

    assert cuprum.remote.__all__ == ["LOCAL", "RemoteConnectionError", "SSHHost"]
    assert cuprum.RemoteConnectionError is cuprum.remote.RemoteConnectionError
    assert issubclass(RemoteConnectionError, cuprum.CuprumError)
    assert issubclass(RemoteConnectionError, ConnectionError)


def test_context_carries_the_host() -> None:
    host = SSHHost("example.invalid")
    context = ExecutionContext(host=host, timeout=1)
    assert context.merged(ExecutionContext(timeout=2)).host is host
    assert ExecutionContext().merged(context).host is host
    assert context == ExecutionContext(host=host, timeout=1)
    assert hash(context) == hash(ExecutionContext(host=host, timeout=1))
    assert context != ExecutionContext(host=SSHHost("example.invalid"), timeout=1)


async def test_host_must_be_connected() -> None:
    host = SSHHost("example.invalid")
    with pytest.raises(RuntimeError, match="not connected"):
        await sh.make(ECHO)("x").on(host).run()
    with pytest.raises(TypeError, match="SSHHost"):
        await sh.make(ECHO)("x").on("example.com").run()


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
                while buffered(read_fd) < 1 << 16 and rescuer.is_alive():
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


# --- pipelines -------------------------------------------------------------------------


async def test_mixed_pipeline(host: SSHHost, stream_backend: str) -> None:
    pipeline = (
        remote("printf", "b\\na\\nc\\n").on(host)
        | remote("sort")
        | remote("tr", "a-z", "A-Z").on(host)
        | sh.make(CAT)()
    )
    result = await pipeline.run(check=True)
    assert result.stdout == "A\nB\nC\n"
    assert [s.host for s in result.stages] == [ALIAS, None, ALIAS, None]


async def test_yes_into_head_both_remote(host: SSHHost, stream_backend: str) -> None:
    word = f"cuprum-yes-{random.randrange(10**9)}"
    with anyio.fail_after(30):
        result = await (sh.make(YES)(word).on(host) | sh.make(HEAD)("-n", "1").on(host)).run()
    assert result.ok, result
    assert result.stdout == f"{word}\n"
    # 141: SIGPIPE reported; 143/137: cuprum ended it after head was done
    # (the master may drop the report once nobody reads the stdout).
    assert result.stages[0].exit_code in (141, 143, 137)
    assert await until(lambda: not live(["yes", word]), 2)


async def test_remote_failure_fails_the_pipeline(host: SSHHost, stream_backend: str) -> None:
    result = await (sh.make(YES)() | remote("sh", "-c", "exit 3").on(host)).run()
    assert not result.ok
    assert result.failure_index == 1
    assert result.stages[1].exit_code == 3


# Reads nothing for a while (longer than the whole linger of a remote stage
# with cancel_grace=0.1), then everything.
SLOW_READER = """
import sys, time
time.sleep(1.5)
print(len(sys.stdin.buffer.read()))
"""


async def test_a_slow_local_reader_gets_every_byte_of_a_remote_stage(
    host: SSHHost, stream_backend: str
) -> None:
    # The remote command exits long before its output has been read: the
    # master must be let deliver the rest, not be cut off after cancel_grace.
    size = 4_000_000
    reader = unsafe.dynamic([sys.executable, "-c", SLOW_READER])
    pipeline = remote("head", "-c", str(size), "/dev/zero").on(host) | reader
    result = await pipeline.run(context=ExecutionContext(cancel_grace=0.1), check=True)
    assert result.stdout == f"{size}\n"


async def test_a_slow_reader_of_open_stderr_gets_every_byte(host: SSHHost) -> None:
    size = 3_000_000
    cmd = remote("sh", "-c", f"head -c {size} /dev/zero >&2").on(host)
    got = 0
    async with cmd.open(
        stdout=False, stderr=True, context=ExecutionContext(cancel_grace=0.1)
    ) as proc:
        assert proc.stderr is not None
        await anyio.sleep(1.5)  # longer than the whole linger with cancel_grace=0.1
        async for chunk in proc.stderr:
            got += len(chunk)
        assert await proc.wait() == 0
    assert got == size


async def test_lines_of_a_remote_command_read_slowly_are_all_there(host: SSHHost) -> None:
    count = 0
    context = ExecutionContext(cancel_grace=0.2)
    async for _ in remote("seq", "200000").on(host).lines(context=context):
        count += 1
        if count % 20000 == 0:
            await anyio.sleep(0.3)  # slower than cancel_grace between reads
    assert count == 200000


@pytest.mark.slow
async def test_256_mib_through_a_remote_cat(
    host: SSHHost, stream_backend: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = tmp_path_factory.getbasetemp() / "remote-256.bin"
    if not path.exists():
        with path.open("wb") as handle:
            for _ in range(256):
                handle.write(os.urandom(1 << 20))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    cat = sh.make(CAT)
    result = await (cat(path) | cat().on(host) | sh.make(SHA256SUM)()).run(check=True)
    assert result.stdout is not None
    assert result.stdout.split()[0] == digest
    captured = await cat().on(host).run(stdin=path, check=True)
    assert captured.stdout_bytes is not None
    assert hashlib.sha256(captured.stdout_bytes).hexdigest() == digest


async def test_pipeline_larger_than_max_sessions_is_refused(sshd_server: SshServer) -> None:
    async with SSHHost(ALIAS, config_file=sshd_server.config, max_sessions=1) as one:
        with pytest.raises(ValueError, match="max_sessions=1"):
            await (sh.make(ECHO)("x").on(one) | sh.make(CAT)().on(one)).run()


def test_uvloop_runs_remote_pipelines_and_cancels_them(
    sshd_server: SshServer, stream_backend: str
) -> None:
    pytest.importorskip("uvloop")

    async def scenario() -> None:
        leaks = LeakChecker()
        async with SSHHost(ALIAS, config_file=sshd_server.config) as host:
            pipeline = (
                remote("printf", "b\\na\\n").on(host) | remote("sort") | sh.make(CAT)().on(host)
            )
            result = await pipeline.run(check=True)
            assert result.stdout == "a\nb\n"
            script, groups = sleepers()
            async with anyio.create_task_group() as tg:
                tg.start_soon(
                    lambda: (
                        remote("sh", "-c", script)
                        .on(host)
                        .run(context=ExecutionContext(cancel_grace=GRACE))
                    )
                )
                assert await until(lambda: len(running(groups)) == 2, 20)
                tg.cancel_scope.cancel()
            assert await until(lambda: not running(groups), GRACE + 1)
        leaks.assert_clean()

    # In a thread of its own: this module's fixtures keep a loop running here.
    errors: list[BaseException] = []

    def in_thread() -> None:
        try:
            anyio.run(scenario, backend="asyncio", backend_options={"use_uvloop": True})
        except BaseException as exc:  # re-raised below
            errors.append(exc)

    thread = threading.Thread(target=in_thread)
    thread.start()
    thread.join(60)
    assert not thread.is_alive()
    if errors:
        raise errors[0]


# --- kill on cancel ------------------------------------------------------------------


async def _ends_remote_group(
    host: SSHHost,
    stdin: bytes | None,
    act: Callable[[list[list[str]], anyio.abc.TaskGroup], object],
) -> None:
    """Run the sleepers remotely, let ``act`` end the run, check the remote group died."""
    script, groups = sleepers()
    cmd = remote("sh", "-c", script).on(host)
    context = ExecutionContext(cancel_grace=GRACE)
    leaks = LeakChecker()
    acted: list[float] = []

    async def run() -> None:
        try:
            await cmd.run(stdin=stdin, context=context, timeout=None)
        except TimeoutExpired:
            acted.append(time.monotonic())

    async with anyio.create_task_group() as tg:
        tg.start_soon(run)
        assert await until(lambda: len(running(groups)) == 2, 20), "remote sleeps never started"
        result = act(groups, tg)
        if hasattr(result, "__await__"):
            await result  # pyright: ignore[reportGeneralTypeIssues]
        acted.append(time.monotonic())
    left = GRACE + 1 - (time.monotonic() - acted[0])
    assert await until(lambda: not running(groups), max(left, 0)), running(groups)
    leaks.assert_clean()


@pytest.mark.parametrize("stdin", STDIN_MODES)
async def test_timeout_ends_the_remote_group(host: SSHHost, stdin: bytes | None) -> None:
    script, groups = sleepers()
    context = ExecutionContext(cancel_grace=GRACE)
    leaks = LeakChecker()
    started: list[bool] = []

    async def watch() -> None:
        started.append(await until(lambda: len(running(groups)) == 2, 20))

    deadline: list[float] = []

    async def run() -> None:
        deadline.append(time.monotonic() + 4)  # the run's timeout expires then
        with pytest.raises(TimeoutExpired):
            await remote("sh", "-c", script).on(host).run(stdin=stdin, context=context, timeout=4)

    async with anyio.create_task_group() as tg:
        tg.start_soon(watch)
        tg.start_soon(run)
    assert started == [True], "remote sleeps never started"
    # Counted from the moment the timeout expired, not from when run() returned.
    left = GRACE + 1 - (time.monotonic() - deadline[0])
    assert await until(lambda: not running(groups), max(left, 0))
    leaks.assert_clean()


@pytest.mark.parametrize("stdin", STDIN_MODES)
async def test_cancel_scope_ends_the_remote_group(host: SSHHost, stdin: bytes | None) -> None:
    def cancel(_: list[list[str]], tg: anyio.abc.TaskGroup) -> None:
        tg.cancel_scope.cancel()

    await _ends_remote_group(host, stdin, cancel)


@pytest.mark.parametrize("stdin", STDIN_MODES)
async def test_sigkill_of_the_ssh_client_ends_the_remote_group(
    host: SSHHost, stdin: bytes | None
) -> None:
    clients: list[int] = []

    def note(event: ExecEvent) -> None:
        if event.phase is EventPhase.START and event.pid is not None:
            clients.append(event.pid)

    async def kill_client(_: list[list[str]], tg: anyio.abc.TaskGroup) -> None:
        os.kill(clients[0], signal.SIGKILL)

    with sh.observe(note):
        await _ends_remote_group(host, stdin, kill_client)


HELPER = """
import sys, anyio
from cuprum import unsafe
from cuprum.remote import SSHHost
config, backend, mode, script = sys.argv[1:]
async def main():
    async with SSHHost("cuprum-test", config_file=config) as host:
        print(host._master.dir, flush=True)
        await unsafe.dynamic(["sh", "-c", script]).on(host).run(
            stdin=b"x" if mode == "stdin" else None)
anyio.run(main, backend=backend)
"""


@pytest.mark.parametrize("mode", ["stdin", "lifeline"])
async def test_sigkill_of_the_owner_process_ends_the_remote_group(
    sshd_server: SshServer, anyio_backend: object, mode: str, tmp_path: Path
) -> None:
    backend = anyio_backend if isinstance(anyio_backend, str) else "asyncio"
    config = tmp_path / "helper_ssh_config"  # its path marks the helper's ssh processes
    config.write_text(sshd_server.config.read_text())
    script, groups = sleepers()
    helper = subprocess.Popen(
        [sys.executable, "-c", HELPER, str(config), backend, mode, script],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
    )
    assert helper.stdout is not None
    socket_dir = Path(helper.stdout.readline().decode().strip())
    try:
        assert await until(lambda: len(running(groups)) == 2, 30), "remote sleeps never started"
        assert processes_with_marker(str(config))  # the helper's master and client
        helper.kill()
        killed = time.monotonic()
        helper.wait()
        # The helper ran with the default cancel_grace of 1 s.
        assert await until(lambda: not running(groups), 2 - (time.monotonic() - killed))
        assert await until(lambda: not processes_with_marker(str(config)), 2)
        # The master removed its socket on its way out; only the (empty)
        # directory of a process killed by SIGKILL is left.
        assert list(socket_dir.iterdir()) == []
    finally:
        if helper.poll() is None:
            helper.kill()
            helper.wait()
        helper.stdout.close()
        if socket_dir.name.startswith("cuprum-ssh-"):
            shutil.rmtree(socket_dir, ignore_errors=True)


async def test_background_holder_of_stdout_is_ended_after_the_grace(host: SSHHost) -> None:
    n = random.randrange(3_000_000, 3_900_000)
    leaks = LeakChecker()
    with anyio.fail_after(20):
        result = (
            await remote("sh", "-c", f"sleep {n} & echo done")
            .on(host)
            .run(context=ExecutionContext(cancel_grace=GRACE))
        )
    assert result.ok, result
    assert result.stdout == "done\n"
    assert await until(lambda: not live(["sleep", str(n)]), 2)
    leaks.assert_clean()


@pytest.mark.parametrize("how", ["run", "lines"])
async def test_an_escaped_remote_writer_does_not_hang_the_run(host: SSHHost, how: str) -> None:
    # A remote process that left the session's process group keeps the
    # channel open and writing: cuprum cannot end it, and must not wait for it.
    marker = f"cuprum-escaped-{random.randrange(1 << 30)}"
    trickle = f"while :; do echo x; sleep 0.05; done # {marker}"
    cmd = remote("sh", "-c", f"setsid sh -c '{trickle}' & echo started").on(host)
    context = ExecutionContext(cancel_grace=0.2)
    try:
        with anyio.fail_after(30):
            if how == "run":
                out = (await cmd.run(context=context)).stdout or ""
            else:
                out = "".join([f"{line}\n" async for line in cmd.lines(context=context)])
        assert out.startswith("started\n")
    finally:
        for pid in processes_with_marker(marker):
            os.kill(pid, signal.SIGKILL)


# --- sessions and the connection -------------------------------------------------------


def _session_counter(sshd_pid: int) -> tuple[Callable[[], int], threading.Event]:
    """Sample sshd's session children (the commands) in a thread; return max seen."""
    seen = [0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            table = processes()
            count = 0
            for info in table.values():
                parent = table.get(info.ppid)
                if info.comm == "sshd" or not info.live or parent is None:
                    continue
                # A session's command: its parent is an sshd child of our sshd.
                if (
                    parent.comm == "sshd"
                    and parent.pid != sshd_pid
                    and _descends(table, parent.pid, sshd_pid)
                ):
                    count += 1
            seen[0] = max(seen[0], count)
            time.sleep(0.003)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()

    def result() -> int:
        stop.set()
        thread.join()
        return seen[0]

    return result, stop


def _parent(pid: int) -> int:
    return processes()[pid].ppid


def _descends(table: dict[int, ProcInfo], pid: int, ancestor: int) -> bool:
    while pid in table and pid > 1:
        if pid == ancestor:
            return True
        pid = table[pid].ppid
    return pid == ancestor


async def test_max_sessions_is_never_exceeded(sshd_server: SshServer) -> None:
    async with SSHHost(ALIAS, config_file=sshd_server.config, max_sessions=4) as four:
        done, _ = _session_counter(sshd_server.pid)
        try:
            cmds = [remote("sh", "-c", f"sleep 0.2; echo {i}").on(four) for i in range(50)]
            results = await run_concurrent(cmds, limit=50)
        finally:
            most = done()
    assert [r.stdout for r in results] == [f"{i}\n" for i in range(50)]
    assert all(r.ok for r in results)
    assert not any("mux_client_request_session" in (r.stderr or "") for r in results)
    assert 2 <= most <= 4, most


async def test_timeout_counts_the_wait_for_a_session(sshd_server: SshServer) -> None:
    script, groups = sleepers()
    async with (
        SSHHost(ALIAS, config_file=sshd_server.config, max_sessions=1) as one,
        anyio.create_task_group() as tg,
    ):
        holder = remote("sh", "-c", script).on(one)
        tg.start_soon(lambda: holder.run(context=ExecutionContext(cancel_grace=GRACE)))
        assert await until(lambda: len(running(groups)) == 2, 20)
        with anyio.fail_after(20), pytest.raises(TimeoutExpired) as caught:
            await sh.make(ECHO)("never").on(one).run(timeout=0.3)
        assert caught.value.result.exit_code is None  # it never started
        with anyio.fail_after(20), pytest.raises(TimeoutExpired):
            async with sh.make(ECHO)("never").on(one).open(stdout=True, timeout=0.3):
                pytest.fail("open() must not enter without a session")
        with anyio.fail_after(20), pytest.raises(TimeoutExpired):
            _ = [line async for line in sh.make(ECHO)("never").on(one).lines(timeout=0.3)]
        tg.cancel_scope.cancel()
    assert await until(lambda: not running(groups), GRACE + 1)


async def test_leaving_the_host_while_runs_use_it_is_a_connection_error(
    sshd_server: SshServer,
) -> None:
    leaks = LeakChecker()
    script, groups = sleepers()
    errors: dict[str, BaseException] = {}

    async def run(name: str, cmd: SafeCmd) -> None:
        try:
            await cmd.run(context=ExecutionContext(cancel_grace=GRACE))
        except Exception as exc:  # recorded for the asserts
            errors[name] = exc

    # The host is left (first) while both runs still use it.
    with anyio.fail_after(30):
        async with (
            anyio.create_task_group() as tg,
            SSHHost(ALIAS, config_file=sshd_server.config, max_sessions=1) as one,
        ):
            tg.start_soon(run, "running", remote("sh", "-c", script).on(one))
            assert await until(lambda: len(running(groups)) == 2, 20)
            tg.start_soon(run, "waiting", sh.make(ECHO)("x").on(one))
            await anyio.wait_all_tasks_blocked()
    assert isinstance(errors.get("running"), RemoteConnectionError), errors
    assert isinstance(errors.get("waiting"), RemoteConnectionError), errors
    assert "not connected" in str(errors["waiting"])
    assert await until(lambda: not running(groups), GRACE + 1)
    leaks.assert_clean()


async def test_leaving_the_host_leaves_nothing(sshd_server: SshServer, tmp_path: Path) -> None:
    config = tmp_path / "own_ssh_config"  # its path marks this host's ssh processes
    config.write_text(sshd_server.config.read_text())
    leaks = LeakChecker()
    dirs = socket_dirs()
    async with SSHHost(ALIAS, config_file=config) as fresh:
        assert socket_dirs() != dirs
        await sh.make(ECHO)("x").on(fresh).run(check=True)
        with pytest.raises(ProgramNotFoundError):
            await remote("cuprum-no-such-program").on(fresh).run()
    assert socket_dirs() == dirs
    assert not processes_with_marker(str(config))
    leaks.assert_clean()


async def test_wrong_host_key_is_refused_and_runs_nothing(
    sshd_server: SshServer, tmp_path: Path
) -> None:
    leaks = LeakChecker()
    dirs = socket_dirs()
    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    known = tmp_path / "known_hosts"
    kind, key = (tmp_path / "other_key.pub").read_text().split()[:2]
    known.write_text(f"[127.0.0.1]:{sshd_server.port} {kind} {key}\n")
    config = tmp_path / "ssh_config"
    config.write_text(
        sshd_server.config.read_text().replace(str(sshd_server.known_hosts), str(known))
    )
    marker = tmp_path / "ran"
    host = SSHHost(ALIAS, config_file=config)
    with pytest.raises(RemoteConnectionError, match=ALIAS) as caught:
        async with host:
            await remote("touch", str(marker)).on(host).run()
    assert "Host key verification failed" in caught.value.ssh_message
    assert caught.value.host == ALIAS
    assert not marker.exists()
    assert socket_dirs() == dirs
    leaks.assert_clean()


async def test_accept_new_records_a_first_seen_key(sshd_server: SshServer, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    config = tmp_path / "ssh_config"
    config.write_text(
        sshd_server.config.read_text().replace(str(sshd_server.known_hosts), str(known))
    )
    with pytest.raises(RemoteConnectionError):
        async with SSHHost(ALIAS, config_file=config):
            pass
    async with SSHHost(ALIAS, config_file=config, host_keys="accept-new") as host:
        result = await sh.make(ECHO)("ok").on(host).run(check=True)
    assert result.stdout == "ok\n"
    assert str(sshd_server.port) in known.read_text()


async def test_unreachable_host_is_a_connection_error(sshd_server: SshServer) -> None:
    leaks = LeakChecker()
    dirs = socket_dirs()
    closed = SSHHost(
        "127.0.0.1",
        port=1,
        options={"UserKnownHostsFile": str(sshd_server.known_hosts)},
        connect_timeout=5,
        config_file=os.devnull,  # not ~/.ssh/config: the test must not depend on it
    )
    with pytest.raises(RemoteConnectionError, match=r"127\.0\.0\.1.*refused"):
        async with closed:
            pass
    assert socket_dirs() == dirs
    leaks.assert_clean()


async def test_lost_connection_is_a_connection_error(sshd_server: SshServer) -> None:
    leaks = LeakChecker()
    script, groups = sleepers()
    async with SSHHost(ALIAS, config_file=sshd_server.config) as doomed:

        async def cut() -> None:
            assert await until(lambda: len(running(groups)) == 2, 20)
            pid = running(groups)[0]
            while (parent := _parent(pid)) != sshd_server.pid:
                pid = parent
            os.kill(pid, signal.SIGKILL)  # sshd's process for this connection

        async def run() -> None:
            with pytest.raises(RemoteConnectionError, match="lost the connection"):
                await remote("sh", "-c", script).on(doomed).run(stdin=b"x")

        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                tg.start_soon(cut)
                tg.start_soon(run)
    assert await until(lambda: not running(groups), 2)
    leaks.assert_clean()


async def test_non_posix_login_shell_is_refused(sshd_server: SshServer) -> None:
    leaks = LeakChecker()
    dirs = socket_dirs()
    # sshd's ForceCommand on this port stands in for a shell that parses
    # the command string differently.
    with pytest.raises(RemoteConnectionError, match="POSIX shell") as caught:
        async with SSHHost(BAD_SHELL_ALIAS, config_file=sshd_server.config):
            pass
    assert caught.value.host == BAD_SHELL_ALIAS
    assert socket_dirs() == dirs
    leaks.assert_clean()


# --- the guide's examples ----------------------------------------------------------------


@pytest.mark.parametrize("code", doc_examples([ROOT / "docs" / "users-guide.md"], "python remote"))
def test_guide_examples_run_against_the_suites_sshd(
    sshd_server: SshServer, code: str, tmp_path: Path
) -> None:
    env = {"CUPRUM_SSH_CONFIG": str(sshd_server.config), "CUPRUM_SSH_HOST": ALIAS}
    run_example(code, tmp_path, env=env, timeout=120)
