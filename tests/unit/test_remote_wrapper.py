"""The remote wrapper and the rest of `cuprum.remote` that needs no ssh.

The wrapper (the POSIX sh script a remote command runs under) is run here
under every POSIX shell this machine has, as sshd would run it; the
marker filter, `SSHHost`'s argument checks and the kill batches use no
connection either. Shared fixtures and helpers: tests/unit/remote_helpers.py.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cuprum import ECHO, ExecutionContext, RemoteConnectionError, sh
from cuprum.remote import SSHHost
from cuprum.remote import _master as remote_master
from cuprum.remote._wrapper import MarkerFilter, remote_command, validate_env_name
from tests.unit import remote_helpers
from tests.unit.remote_helpers import AWKWARD

# Fixtures shared by the remote test files: pytest finds them by these names.
anyio_backend = remote_helpers.anyio_backend
private_tempdir = remote_helpers.private_tempdir


# --- the wrapper, without ssh ------------------------------------------------------

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
    # A direct command is run by the login shell itself, as sshd runs it.
    login = shell if options.get("direct") else "/bin/sh"
    done = subprocess.run(
        [login, "-c", command],
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

    assert cuprum.remote.__all__ == ["LOCAL", "RemoteConnectionError", "SSHHost", "connect_all"]
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


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize(
    ("path", "expect"),
    [
        ("/nonexistent:{bin}", "found"),  # a later entry
        ("/nonexistent::/bin", "found"),  # an empty entry is the working directory
        ("{plain_dir}:{bin}", "found"),  # a non-executable file of that name is skipped
        ("{plain_dir}", "noexec"),  # ... but reported when nothing else is found
        ("/nonexistent", "notfound"),
    ],
)
def test_wrapper_looks_the_program_up_on_path_as_the_shell_would(
    tmp_path: Path, shell: str, path: str, expect: str
) -> None:
    bin_dir, plain_dir = tmp_path / "bin", tmp_path / "plain"
    bin_dir.mkdir()
    plain_dir.mkdir()
    program = bin_dir / "cuprum-prog"
    program.write_text('#!/bin/sh\necho ran "$0"\n')
    program.chmod(0o755)
    (plain_dir / "cuprum-prog").write_text("not a program")
    env: dict[str, str | None] = {
        "PATH": path.format(bin=bin_dir, plain_dir=plain_dir) + ":/usr/bin:/bin"
        if expect == "found"
        else path.format(bin=bin_dir, plain_dir=plain_dir)
    }
    cwd = str(bin_dir) if "::" in path else None
    code, out, err = run_wrapper(["cuprum-prog"], env=env, cwd=cwd, shell=shell)
    found = MarkerFilter("t0k")
    found.feed(err)
    if expect == "found":
        assert (code, found.problem) == (0, None), err
        assert out == b"ran cuprum-prog\n" or out.endswith(b"/cuprum-prog\n")
    else:
        assert (found.problem, code) == (expect, 127 if expect == "notfound" else 126)


# Login shells that run the wrapper themselves (`direct`): sh and dash.
DIRECT_SHELLS = [p for p in SHELLS if os.path.basename(str(p.values[0])) in {"sh", "dash"}]


@pytest.mark.parametrize("shell", DIRECT_SHELLS)
def test_a_sh_login_runs_the_wrapper_itself_with_the_same_results(
    tmp_path: Path, shell: str
) -> None:
    code, out, err = run_wrapper(["printf", "%s\\0", *AWKWARD], shell=shell, direct=True)
    assert code == 0, err
    assert out == b"".join(arg.encode() + b"\0" for arg in AWKWARD)
    found = MarkerFilter("t0k")
    assert found.feed(err) == b""
    assert (found.exit_code, found.pgid is not None) == (0, True)

    env = {"CUPRUM_A": "x y'z\n$(id)", "HOME": None}
    script = 'printf "%s|%s|%s|" "$CUPRUM_A" "${HOME-unset}" "$PWD"; exit 3'
    code, out, err = run_wrapper(
        ["sh", "-c", script], env=env, cwd=str(tmp_path), shell=shell, direct=True
    )
    found = MarkerFilter("t0k")
    found.feed(err)
    assert (code, found.exit_code) == (3, 3)
    assert out == f"x y'z\n$(id)|unset|{tmp_path}|".encode()

    code, _, err = run_wrapper(["cuprum-no-such-program"], shell=shell, direct=True)
    found = MarkerFilter("t0k")
    found.feed(err)
    assert (code, found.problem) == (127, "notfound")


def test_a_direct_command_holds_no_exec_of_bin_sh() -> None:
    options = {"token": "t", "lifeline": True, "merge_stderr": False, "grace": 1.0,
               "cwd": None, "env": None}  # fmt: skip
    direct = remote_command(["true"], direct=True, **options)  # pyright: ignore[reportArgumentType]
    usual = remote_command(["true"], **options)  # pyright: ignore[reportArgumentType]
    assert direct.startswith("set -- t l 1 '' 0 true\n")
    assert usual.startswith("exec /bin/sh -c ")
    assert "exec /bin/sh" not in direct
