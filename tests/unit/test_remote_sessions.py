"""Sessions and the connection of an `SSHHost`, and the guide's remote examples.

max_sessions, leaving the host, host keys, unreachable and lost
connections, a login shell that is not POSIX sh; then the documentation's
examples fenced as `python remote`, run against the suite's own sshd.
Shared fixtures and helpers: tests/unit/remote_helpers.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest

from cuprum import (
    ECHO,
    EventPhase,
    ExecutionContext,
    ProgramNotFoundError,
    RemoteConnectionError,
    SafeCmd,
    TimeoutExpired,
    run_concurrent,
    sh,
)
from cuprum.remote import SSHHost, connect_all
from devtools.loopback_sshd import ALIAS, BAD_SHELL_ALIAS, SshServer
from tests.helpers import (
    DOC_PAGES,
    LeakChecker,
    ProcInfo,
    doc_examples,
    processes,
    processes_with_marker,
    run_example,
)
from tests.unit import remote_helpers
from tests.unit.remote_helpers import GRACE, remote, running, sleepers, socket_dirs, until

# Fixtures shared by the remote test files: pytest finds them by these names.
anyio_backend = remote_helpers.anyio_backend
private_tempdir = remote_helpers.private_tempdir
sshd_server = remote_helpers.sshd_server


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


async def test_a_run_out_of_time_or_cancelled_before_its_session_starts_nothing(
    sshd_server: SshServer,
) -> None:
    phases: list[EventPhase] = []
    cmd = sh.make(ECHO)("never")
    async with SSHHost(ALIAS, config_file=sshd_server.config) as host:
        await cmd.on(host).run()  # connected and warm
        with sh.observe(lambda event: phases.append(event.phase)):
            with pytest.raises(TimeoutExpired) as caught:
                await cmd.on(host).run(timeout=0)
            assert caught.value.result.exit_code is None
            with anyio.CancelScope() as scope:
                scope.cancel()
                await cmd.on(host).run()
    assert EventPhase.START not in phases
    assert phases.count(EventPhase.TIMEOUT) == 1


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


@pytest.mark.parametrize("code", doc_examples(DOC_PAGES, "python remote"))
def test_guide_examples_run_against_the_suites_sshd(
    sshd_server: SshServer, code: str, tmp_path: Path
) -> None:
    env = {"CUPRUM_SSH_CONFIG": str(sshd_server.config), "CUPRUM_SSH_HOST": ALIAS}
    run_example(code, tmp_path, env=env, timeout=120)


@pytest.mark.parametrize("client", remote_helpers.CLIENTS)
async def test_send_env_of_the_users_config_reaches_the_command(
    sshd_server: SshServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, client: str
) -> None:
    # An ``ssh`` client sends the variables its config's SendEnv names; a
    # session opened in-process sends the same (the test sshd accepts
    # CUPRUM_TEST_*).
    config = tmp_path / "ssh_config"
    config.write_text(
        sshd_server.config.read_text() + "    SendEnv CUPRUM_TEST_SENT CUPRUM_TEST_GONE\n"
    )
    monkeypatch.setenv("CUPRUM_REMOTE_CLIENT", "auto" if client == "mux" else "ssh")
    monkeypatch.setenv("CUPRUM_TEST_SENT", "it's here")
    monkeypatch.setenv("CUPRUM_TEST_KEPT", "not named")
    monkeypatch.delenv("CUPRUM_TEST_GONE", raising=False)
    script = (
        'printf "%s|%s|%s" "$CUPRUM_TEST_SENT" "${CUPRUM_TEST_KEPT-unset}" '
        '"${CUPRUM_TEST_GONE-unset}"'
    )
    async with SSHHost(ALIAS, config_file=config) as host:
        result = await remote("sh", "-c", script).on(host).run()
    assert result.stdout == "it's here|unset|unset"


async def test_connect_all_connects_a_fleet_at_once_and_leaves_it(sshd_server: SshServer) -> None:
    leaks = LeakChecker()
    dirs = socket_dirs()
    hosts = [SSHHost(ALIAS, config_file=sshd_server.config) for _ in range(3)]
    async with connect_all(hosts) as fleet:
        assert fleet == hosts
        assert all(host.connected for host in hosts)
        results = await run_concurrent(
            [remote("echo", f"host {i}").on(host) for i, host in enumerate(fleet)]
        )
        assert [r.stdout for r in results] == ["host 0\n", "host 1\n", "host 2\n"]
    assert not any(host.connected for host in hosts)
    assert socket_dirs() == dirs
    leaks.assert_clean()


@pytest.mark.parametrize("bad", [1, 2])
async def test_connect_all_names_every_host_it_could_not_reach_and_leaves_the_rest(
    sshd_server: SshServer, bad: int
) -> None:
    leaks = LeakChecker()
    dirs = socket_dirs()
    good = SSHHost(ALIAS, config_file=sshd_server.config)
    failing = [SSHHost(BAD_SHELL_ALIAS, config_file=sshd_server.config) for _ in range(bad)]
    with pytest.raises((RemoteConnectionError, ExceptionGroup)) as caught:
        async with connect_all([good, *failing]):
            pytest.fail("the block must not run")
    errors = caught.value.exceptions if isinstance(caught.value, ExceptionGroup) else [caught.value]
    assert len(errors) == bad
    assert all(isinstance(e, RemoteConnectionError) and e.host == BAD_SHELL_ALIAS for e in errors)
    if bad > 1:
        assert f"cannot connect to {bad} of {bad + 1} hosts" in str(caught.value)
    assert not good.connected
    assert socket_dirs() == dirs
    leaks.assert_clean()


async def test_connect_all_leaves_every_host_when_the_block_fails(sshd_server: SshServer) -> None:
    hosts = [SSHHost(ALIAS, config_file=sshd_server.config) for _ in range(2)]
    with pytest.raises(KeyError):
        async with connect_all(hosts):
            raise KeyError("boom")
    assert not any(host.connected for host in hosts)


async def test_connect_all_refuses_what_is_not_a_fleet(sshd_server: SshServer) -> None:
    host = SSHHost(ALIAS, config_file=sshd_server.config)
    with pytest.raises(ValueError, match="same SSHHost twice"):
        async with connect_all([host, host]):
            pass
    with pytest.raises(TypeError, match="takes SSHHost objects"):
        async with connect_all([host, "web1"]):  # type: ignore[list-item]
            pass
    assert not host.connected
