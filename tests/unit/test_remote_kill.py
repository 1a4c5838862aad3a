"""Ending the remote process group: timeouts, cancellation, SIGKILL (`cuprum.remote`).

The sshd runs on this machine, so the remote processes are visible here:
the tests look for them in /proc (ignoring zombies, which init reaps
lazily on some machines). Shared fixtures and helpers:
tests/unit/remote_helpers.py.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import anyio
import pytest

from cuprum import (
    EventPhase,
    ExecEvent,
    ExecutionContext,
    RemoteConnectionError,
    TimeoutExpired,
    sh,
)
from cuprum.remote import SSHHost
from cuprum.remote._wrapper import new_token, remote_command
from devtools.loopback_sshd import SshServer
from tests.helpers import ROOT, LeakChecker, processes_with_marker
from tests.unit import remote_helpers
from tests.unit.remote_helpers import (
    CLIENTS,
    GRACE,
    STDIN_MODES,
    live,
    remote,
    running,
    sleepers,
    until,
)

# Fixtures shared by the remote test files: pytest finds them by these names.
anyio_backend = remote_helpers.anyio_backend
private_tempdir = remote_helpers.private_tempdir
sshd_server = remote_helpers.sshd_server


@pytest.fixture(scope="module", params=CLIENTS)
async def host(sshd_server: SshServer, request: pytest.FixtureRequest) -> AsyncIterator[SSHHost]:
    """The kill protocol is checked with both kinds of session: in-process and ``ssh`` client."""
    async with remote_helpers.connect(sshd_server, request.param) as connected:
        yield connected


# --- kill on cancel ------------------------------------------------------------------


async def _ends_remote_group(
    host: SSHHost,
    stdin: bytes | None,
    act: Callable[[list[list[str]], anyio.abc.TaskGroup], object],
    ending: type[Exception] = TimeoutExpired,
) -> None:
    """Run the sleepers remotely, let ``act`` end the run, check the remote group died.

    ``ending`` is the error the run may end with.
    """
    script, groups = sleepers()
    cmd = remote("sh", "-c", script).on(host)
    context = ExecutionContext(cancel_grace=GRACE)
    leaks = LeakChecker()
    acted: list[float] = []

    async def run() -> None:
        try:
            await cmd.run(stdin=stdin, context=context, timeout=None)
        except ending:
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


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("stdin", STDIN_MODES)
async def test_sigkill_of_the_local_end_ends_the_remote_group(
    sshd_server: SshServer, stdin: bytes | None, client: str
) -> None:
    # The local process that carries the session (the stage's pid): an
    # ``ssh`` client, or, for in-process sessions, the ControlMaster itself,
    # whose death loses the connection (so this test has a host of its own).
    carriers: list[int] = []

    def note(event: ExecEvent) -> None:
        if event.phase is EventPhase.START and event.pid is not None:
            carriers.append(event.pid)

    async def kill_carrier(_: list[list[str]], tg: anyio.abc.TaskGroup) -> None:
        os.kill(carriers[0], signal.SIGKILL)

    async with remote_helpers.connect(sshd_server, client) as own:
        with sh.observe(note):
            await _ends_remote_group(own, stdin, kill_carrier, RemoteConnectionError)


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
        assert "started\n" in out  # the escaped writer may print first
    finally:
        for pid in processes_with_marker(marker):
            os.kill(pid, signal.SIGKILL)


async def test_a_remote_background_job_holding_no_channel_does_not_outlive_its_run(
    host: SSHHost,
) -> None:
    n = random.randrange(3_000_000, 3_900_000)
    job = f"sleep {n} >/dev/null 2>&1 </dev/null & echo done"
    with anyio.fail_after(20):
        result = (
            await remote("sh", "-c", job).on(host).run(context=ExecutionContext(cancel_grace=GRACE))
        )
    assert result.stdout == "done\n"
    assert await until(lambda: not live(["sleep", str(n)]), GRACE + 2)


@pytest.mark.parametrize("merge", [False, True], ids=["lifeline", "lifeline-merged"])
async def test_the_lifeline_watcher_alone_gives_a_background_job_the_grace_then_ends_it(
    sshd_server: SshServer, merge: bool
) -> None:
    # The wrapper through a plain `ssh` client, without cuprum's own linger:
    # sshd closes the lifeline when the wrapper exits, and the watcher
    # waits the grace before it ends what the command left behind.
    n = random.randrange(3_000_000, 3_900_000)
    grace = 3.0
    command = remote_command(
        ["sh", "-c", f"sleep {n} >/dev/null 2>&1 </dev/null & echo done"],
        token=new_token(), lifeline=True, merge_stderr=merge, grace=grace, cwd=None, env=None,
    )  # fmt: skip
    lifeline_r, lifeline_w = os.pipe()
    try:
        ssh = ["ssh", "-F", str(sshd_server.config), "-T", sshd_server.alias, command]
        done = subprocess.run(ssh, stdin=lifeline_r, capture_output=True, timeout=30, check=False)
        assert done.stdout == b"done\n"
        assert live(["sleep", str(n)]), "ended before its grace"
        assert await until(lambda: not live(["sleep", str(n)]), grace + 10)
    finally:
        os.close(lifeline_r)
        os.close(lifeline_w)
        for pid in live(["sleep", str(n)]):
            os.kill(pid, signal.SIGKILL)


async def test_keep_background_leaves_a_remote_job_running(host: SSHHost) -> None:
    n = random.randrange(3_000_000, 3_900_000)
    job = f"sleep {n} >/dev/null 2>&1 </dev/null & echo done"
    context = ExecutionContext(cancel_grace=GRACE, keep_background=True)
    with anyio.fail_after(20):
        result = await remote("sh", "-c", job).on(host).run(context=context)
    assert result.stdout == "done\n"
    try:
        await anyio.sleep(GRACE + 0.5)  # past the grace: it would be gone by now
        assert live(["sleep", str(n)])
    finally:
        for pid in live(["sleep", str(n)]):
            os.kill(pid, signal.SIGKILL)


async def test_a_remote_background_writer_gets_the_grace_as_locally(host: SSHHost) -> None:
    script = "echo a; (sleep 0.2; echo b) & exit 0"
    with anyio.fail_after(20):
        result = (
            await remote("sh", "-c", script).on(host).run(context=ExecutionContext(cancel_grace=2))
        )
    assert result.stdout == "a\nb\n"
