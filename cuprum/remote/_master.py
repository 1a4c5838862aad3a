"""`Master`: one OpenSSH ControlMaster, started and owned by cuprum.

The master is an ordinary cuprum child (``ssh -M -N``, never ``-f``), in
its own session, with its control socket in a private 0700 directory.
Every remote command is a session multiplexed over it: opened in-process
on the control socket (`cuprum.remote._mux`) when the master speaks the
protocol cuprum knows, else through a local ``ssh`` client
(`Master.client_argv`); ``CUPRUM_REMOTE_CLIENT=ssh`` asks for the latter.
On Linux the master is started through ``setpriv --pdeathsig TERM`` where
available, so it ends when the process that owns it dies, even by SIGKILL;
the remote sessions then lose their channel and the wrapper's watcher ends
them. It also carries the host's session limiter and sends ``kill``
through the connection (`Master.kill_group`).
"""

from __future__ import annotations

import fnmatch
import functools
import itertools
import math
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from typing import IO, final

import anyio

from .._backend import remote_client
from .._errors import RemoteConnectionError
from .._process import Child, resolve_executable, spawn
from . import _mux
from ._ssh import (
    CONTROL_TIMEOUT,
    PROBE,
    PROBE_ANSWER,
    call_ssh,
    short_call,
    socket_dir,
)

__all__ = ["Master"]

_order = itertools.count()


_WILDCARDS = frozenset("*?[")


@functools.lru_cache(maxsize=64)
def _pattern(pattern: str) -> Callable[[str], re.Match[str] | None]:
    return re.compile(fnmatch.translate(pattern)).match


@final
class Master:
    """One ControlMaster and what the engine needs of it (private to cuprum).

    `SSHHost` is the public face; a connected host has one `Master`.
    """

    def __init__(
        self,
        destination: str,
        *,
        common: tuple[str, ...],
        strict: str,
        max_sessions: int,
        connect_timeout: float,
    ) -> None:
        self.destination = destination
        self.common = common  # -F, -l, -p and -o words, for the master and clients
        self.strict = strict
        self.max_sessions = max_sessions
        self.connect_timeout = connect_timeout
        self.order: int = next(_order)  # sessions of several hosts are taken in this order
        self.ssh: str = resolve_executable("ssh", None)
        self.limiter: anyio.CapacityLimiter = anyio.CapacityLimiter(max_sessions)
        self.multi_lock: anyio.Lock = anyio.Lock()  # held while one run takes several sessions
        self._control = anyio.Lock()
        self._pending: dict[str, set[int]] = {}
        self._sent: dict[tuple[str, int], bool] = {}
        self._waiting: dict[tuple[str, int], int] = {}  # callers of kill_group per group
        self.dir: str | None = None
        self.socket: str | None = None
        self.mux_pid: int | None = None  # set when sessions are opened in-process
        self._send_env: tuple[str, ...] = ()  # ssh_config SendEnv patterns
        self.direct: bool = False  # the login shell runs the wrapper itself (sh, dash)
        self._child: Child | None = None
        self._err: IO[bytes] | None = None
        self._closing = False
        self._mux_wanted = remote_client() == "auto"

    @property
    def running(self) -> bool:
        """True between a successful `start` and `stop`, while the master lives."""
        child = self._child
        return (
            not self._closing
            and self.socket is not None
            and child is not None
            and child.poll() is None
        )

    def why_stopped(self) -> str:
        """Say why `running` is false, for an error message."""
        if self.socket is None or self._closing:
            return "the SSHHost is not connected (its `async with` block ended)"
        return f"the ControlMaster exited\n{self._stderr()}"

    async def start(self) -> None:
        """Start the master, wait until it answers, probe the login shell.

        Raises
        ------
        RemoteConnectionError
            No connection, login or host key; or not a POSIX login shell.

        Cancellation: everything is stopped (shielded) first.
        """
        try:
            self.dir = socket_dir()
            self._spawn()
            try:
                with anyio.fail_after(self.connect_timeout):
                    await self._wait_ready()
            except TimeoutError:
                raise RemoteConnectionError(
                    self.destination,
                    f"no connection after {self.connect_timeout:g} s\n{self._stderr()}",
                ) from None
            if self.mux_pid is not None:
                await self._read_send_env()
            await self._probe()
            await self._learn_shell()
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self.stop()
            raise

    def _spawn(self) -> None:
        assert self.dir is not None
        control_path = self.dir.replace("%", "%%") + "/%C"
        argv = [
            self.ssh, "-M", "-N", "-o", "ControlMaster=yes", "-o", "ControlPersist=no",
            "-o", f"ControlPath={control_path}", "-o", "BatchMode=yes",
            "-o", f"StrictHostKeyChecking={self.strict}",
            "-o", f"ConnectTimeout={max(1, math.ceil(self.connect_timeout))}",
            *self.common, "--", self.destination,
        ]  # fmt: skip
        executable = self.ssh
        setpriv = shutil.which("setpriv") if os.uname().sysname == "Linux" else None
        if setpriv is not None:
            argv = [setpriv, "--pdeathsig", "TERM", *argv]
            executable = setpriv
        self._err = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop
        null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        try:
            self._child = spawn(
                tuple(argv), executable, stdin=null, stdout=null,
                stderr=self._err.fileno(), cwd=None, env=None,
            )  # fmt: skip
        finally:
            os.close(null)

    def _stderr(self) -> str:
        if self._err is None:
            return ""
        self._err.seek(0)
        return self._err.read().decode("utf-8", "replace").strip()

    async def _wait_ready(self) -> None:
        master, directory = self._child, self.dir
        assert master is not None
        assert directory is not None
        delay = 0.005
        while True:
            if master.poll() is not None:
                raise RemoteConnectionError(self.destination, self._stderr())
            names = os.listdir(directory)
            if names and await self._answers(os.path.join(directory, names[0])):
                return
            await anyio.sleep(delay)
            delay = min(delay * 2, 0.1)

    async def _answers(self, path: str) -> bool:
        """Say whether the master at ``path`` is ready; learn if it takes in-process sessions."""
        if self._mux_wanted:
            try:
                self.mux_pid = await _mux.alive_check(path, CONTROL_TIMEOUT)
            except (OSError, TimeoutError):
                return False  # not listening yet
            except _mux.MuxError:
                pass  # another protocol: an ``ssh`` client per session
            else:
                self.socket = path
                return True
        code, _, _ = await call_ssh(
            [self.ssh, "-S", path, "-O", "check", *self.common, "--", self.destination],
            self.ssh, CONTROL_TIMEOUT,
        )  # fmt: skip
        if code == 0:
            self.socket = path
        return code == 0

    async def _read_send_env(self) -> None:
        """Learn the ``SendEnv`` patterns of the user's ssh_config (``ssh -G``).

        An ``ssh`` client sends the matching variables with each session;
        sessions opened in-process send the same (`send_env`).
        """
        code, out, _ = await call_ssh(
            [self.ssh, "-G", *self.common, "--", self.destination], self.ssh, CONTROL_TIMEOUT
        )
        if code == 0:
            self._send_env = tuple(
                line.split(None, 1)[1]
                for line in out.decode("utf-8", "replace").splitlines()
                if line.lower().startswith("sendenv ") and len(line.split(None, 1)) == 2
            )

    def send_env(self) -> tuple[str, ...]:
        """``NAME=value`` of this process's variables that ``SendEnv`` names.

        Read anew for each session, as an ``ssh`` client would; a name
        without wildcards is one lookup, and the environment is listed at
        most once (Debian's ``SendEnv LANG LC_*`` costs a few microseconds).
        """
        if not self._send_env:
            return ()
        chosen: dict[str, str] = {}
        listed: list[tuple[str, str]] | None = None
        for pattern in self._send_env:
            if pattern.startswith("-"):  # OpenSSH 8.7+: forget earlier matches
                for name in [n for n in chosen if fnmatch.fnmatchcase(n, pattern[1:])]:
                    del chosen[name]
            elif not _WILDCARDS.intersection(pattern):
                value = os.environ.get(pattern)
                if value is not None:
                    chosen[pattern] = value
            else:
                if listed is None:
                    listed = list(os.environ.items())
                match = _pattern(pattern)
                chosen.update((name, value) for name, value in listed if match(name))
        return tuple(f"{name}={value}" for name, value in chosen.items())

    async def call(self, remote: str, timeout: float) -> tuple[int | None, bytes, bytes]:
        """Run a short command through the master: `short_call`'s (status, out, err).

        A session the master refused reports why on stderr.
        """
        socket, mux_pid = self.socket, self.mux_pid
        assert socket is not None
        if mux_pid is None:
            return await call_ssh(self.client_argv(remote), self.ssh, timeout)
        failures: list[str] = []
        env = self.send_env()
        try:
            code, out, err = await short_call(
                lambda stdin, stdout, stderr: _mux.open_session(
                    socket, remote, (stdin, stdout, stderr),
                    master_pid=mux_pid, on_failure=failures.append, env=env,
                ),
                timeout,
            )  # fmt: skip
        except OSError as exc:
            return 255, b"", f"the ControlMaster's socket failed: {exc}".encode()
        return code, out, err + "".join(failures).encode()

    async def _learn_shell(self) -> None:
        """Learn whether the login shell can run the wrapper without ``exec /bin/sh``.

        ``sh`` and ``dash`` read no rc file for ``-c`` and are what the
        wrapper would ``exec`` anyway; any other shell (bash reads
        ``.bashrc``, whose functions could stand in for the wrapper's
        builtins) gets ``exec /bin/sh`` as before.
        """
        code, out, _ = await self.call('printf %s "$0"', self.connect_timeout)
        name = out.decode("utf-8", "replace").strip().lstrip("-").rsplit("/", 1)[-1]
        self.direct = code == 0 and name in {"sh", "dash"}

    async def _probe(self) -> None:
        code, out, err = await self.call(PROBE, self.connect_timeout)
        if code == 0 and out == PROBE_ANSWER:
            return
        if code == 255 and not out:
            raise RemoteConnectionError(self.destination, err.decode("utf-8", "replace"))
        _, shell, _ = await self.call("echo $SHELL", self.connect_timeout)
        raise RemoteConnectionError(
            self.destination,
            f"the login shell ({shell.decode('utf-8', 'replace').strip() or 'unknown'}) did not "
            f"answer like a POSIX shell (stdout {out[:200]!r}, stderr "
            f"{err[:200].decode('utf-8', 'replace').strip()!r}); cuprum needs sh, bash, dash, "
            "ksh or zsh as the login shell, and rc files that print nothing on stdout",
            what="cannot run commands on",
        )

    async def stop(self) -> None:
        """Stop the master (``-O exit``, then SIGTERM/SIGKILL) and remove its directory."""
        self._closing = True  # no new client from now on
        master = self._child
        try:
            if master is not None:
                if master.returncode is None and self.socket is not None:
                    await call_ssh(
                        [self.ssh, "-S", self.socket, "-O", "exit", *self.common,
                         "--", self.destination],
                        self.ssh, CONTROL_TIMEOUT,
                    )  # fmt: skip
                    with anyio.move_on_after(1.0):
                        await master.wait()
                await master.terminate(1.0)
                master.close()
        finally:
            self._child = None
            self.socket = None
            self.mux_pid = None
            if self._err is not None:
                self._err.close()
                self._err = None
            if self.dir is not None:
                shutil.rmtree(self.dir, ignore_errors=True)
                self.dir = None

    # --- what the engine uses ------------------------------------------------

    def client_argv(self, remote: str) -> tuple[str, ...]:
        """The local argv of one command through the master.

        ``ProxyCommand=false`` comes first (ssh keeps the first value), so
        a client whose master is gone fails instead of opening a
        connection of its own; ``-T`` because a pty is no data path.
        """
        assert self.socket is not None
        return (
            self.ssh, "-S", self.socket, "-o", "ControlMaster=no", "-o", "ProxyCommand=false",
            "-o", "RemoteCommand=none", "-o", "BatchMode=yes", "-T", *self.common,
            "--", self.destination, remote,
        )  # fmt: skip

    async def kill_group(self, signame: str, pgid: int) -> bool:
        """Send ``kill -SIG -PGID`` through the master; say whether it got there.

        Kills are batched: one control session at a time carries every
        group waiting for the same signal, so a burst of cancellations
        never needs more than one extra session.
        """
        key = (signame, pgid)
        self._waiting[key] = self._waiting.get(key, 0) + 1
        self._pending.setdefault(signame, set()).add(pgid)
        try:
            async with self._control:
                if key in self._sent:
                    return self._sent.pop(key)
                groups = self._pending.pop(signame, set())
                delivered = False
                if groups and self.running:
                    targets = " ".join(f"-{group}" for group in sorted(groups))
                    try:
                        code, _, _ = await self.call(
                            f"kill -{signame} {targets} 2>/dev/null; :", CONTROL_TIMEOUT
                        )
                    except BaseException:
                        # Cancelled midway: the other callers' groups go back
                        # in the queue, for the next caller to send.
                        self._pending.setdefault(signame, set()).update(groups)
                        raise
                    delivered = code == 0
                for group in groups:
                    if (signame, group) in self._waiting:  # not cancelled meanwhile
                        self._sent[signame, group] = delivered
                return self._sent.pop(key, delivered)
        finally:
            # The last caller for a group leaves nothing behind, cancelled or
            # not: a stale group id must never be signalled later (ids are
            # reused), nor a stale answer given.
            left = self._waiting[key] - 1
            if left:
                self._waiting[key] = left
            else:
                del self._waiting[key]
                self._pending.get(signame, set()).discard(pgid)
                self._sent.pop(key, None)
