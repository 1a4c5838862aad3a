"""One child process: spawn it on raw descriptors, wait for it, end it.

cuprum spawns with `subprocess.Popen` directly (the children get only the
descriptors cuprum hands them, in a new session) and waits through a pidfd
that anyio's readiness waiting drives, so the same code serves asyncio and
trio without a child watcher or a thread per child.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping
from typing import final

import anyio

from ._errors import ProgramNotFoundError

__all__ = ["Child", "build_env", "resolve_executable", "spawn"]

_HAS_PIDFD = hasattr(os, "pidfd_open")
_HAS_PROC = os.path.isdir("/proc/self")
# Where each program was found, per search path: a run does not search
# PATH again while it has not changed. Only absolute search paths are
# remembered (a relative entry depends on the working directory); an
# executable that is gone when spawned is forgotten (`forget_executable`).
_found: dict[tuple[str, str], str] = {}
_FOUND_MAX = 512


def build_env(overlay: Mapping[str, str | None] | None) -> dict[str, str] | None:
    """Lay ``overlay`` over the parent's environment (None removes a name)."""
    if not overlay:
        return None
    env = dict(os.environ)
    for key, value in overlay.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def resolve_executable(program: str, env: Mapping[str, str] | None) -> str:
    """Find the executable for ``program`` as exec would, or raise.

    Raises
    ------
    ProgramNotFoundError
        Nothing of that name on the search path (or at that path).
    PermissionError
        Found, but a directory or not executable.
    """
    if os.sep in program:
        if not os.path.lexists(program):
            raise ProgramNotFoundError(program, None)
        if os.path.isdir(program):
            raise PermissionError(errno.EACCES, f"program {program!r} is a directory", program)
        if not os.access(program, os.X_OK):
            raise PermissionError(errno.EACCES, f"program {program!r} is not executable", program)
        return program
    search = (env if env is not None else os.environ).get("PATH", os.defpath)
    found = _found.get((program, search))
    if found is not None:
        return found
    found = shutil.which(program, path=search)
    if found is not None:
        if all(os.path.isabs(entry) for entry in search.split(os.pathsep)):
            if len(_found) >= _FOUND_MAX:
                _found.clear()
            _found[program, search] = found
        return found
    for directory in search.split(os.pathsep):
        candidate = os.path.join(directory or ".", program)
        if os.path.isfile(candidate):
            raise PermissionError(
                errno.EACCES,
                f"program {program!r} found at {candidate!r} but is not executable",
                candidate,
            )
    raise ProgramNotFoundError(program, search)


def forget_executable(executable: str) -> None:
    """Drop ``executable`` from the lookup cache (it could not be executed)."""
    for key in [key for key, found in _found.items() if found == executable]:
        del _found[key]


def group_has_live_members(pgid: int) -> bool:
    """Say whether process group ``pgid`` has a member that is not a zombie.

    A zombie in the group is an orphan waiting for init to reap it, which
    some inits do slowly; it holds no descriptor and runs nothing, so on
    Linux /proc is read to leave zombies out. Elsewhere, signal 0 answers.
    """
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    if not _HAS_PROC:
        return True
    with os.scandir("/proc") as entries:
        for entry in entries:
            if entry.name.isdigit() and _live_member(entry.name, pgid):
                return True
    return False


def _live_member(pid: str, pgid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rpartition(b")")[2].split()
    except OSError:
        return False
    # After the command name: state, ppid, pgrp, ...
    return len(fields) > 2 and int(fields[2]) == pgid and fields[0] not in (b"Z", b"X")


@final
class Child:
    """A spawned child, leader of its own process group."""

    __slots__ = (
        "_pidfd",
        "_polling",
        "_popen",
        "_waiter",
        "exited_at",
        "signals_sent",
        "started_at",
    )

    def __init__(self, popen: subprocess.Popen[bytes]) -> None:
        self._popen = popen
        self.started_at: float = time.monotonic()
        self.exited_at: float | None = None
        self.signals_sent: set[int] = set()
        self._pidfd = -1
        self._waiter: anyio.Event | None = None  # for the tasks waiting on the poller
        self._polling = False  # a task waits on the pidfd
        if _HAS_PIDFD:
            try:
                self._pidfd = os.pidfd_open(popen.pid)
            except OSError:
                self._pidfd = -1

    @property
    def pid(self) -> int:
        """The child's pid (also its process group id)."""
        return self._popen.pid

    @property
    def returncode(self) -> int | None:
        """The exit status once reaped, negative for a signal."""
        return self._popen.returncode

    def poll(self) -> int | None:
        """Reap the child if it has exited, without blocking."""
        code = self._popen.poll()
        if code is not None:
            self._reaped()
        return code

    async def wait(self) -> int:
        """Wait for the child to exit and reap it.

        Several tasks may wait at once: one polls the pidfd, the others
        wait for its news.

        Cancellation: the child is left running; callers end it with
        `terminate` in a shielded scope.
        """
        while self._popen.returncode is None:
            if self._polling:
                if self._waiter is None:
                    self._waiter = anyio.Event()
                await self._waiter.wait()
                continue
            self._polling = True
            try:
                await self._wait_once()
            finally:
                self._polling = False
                waiter, self._waiter = self._waiter, None
                if waiter is not None:
                    waiter.set()
        self._reaped()
        return self._popen.returncode

    async def exited(self) -> None:
        """Wait for the child to exit and reap it (`wait` without the code)."""
        await self.wait()

    async def _wait_once(self) -> None:
        if self._pidfd >= 0:
            # A pidfd stays readable once the child exited, also when another
            # task reaped it with `poll` meanwhile.
            await anyio.wait_readable(self._pidfd)
            self.poll()
            return
        # No pidfd (macOS, old kernels): poll with a short backoff.
        delay = 0.001
        while self.poll() is None:
            await anyio.sleep(delay)
            delay = min(delay * 2, 0.05)

    def _reaped(self) -> None:
        if self.exited_at is None:
            self.exited_at = time.monotonic()
        if not self._polling:
            # Not while a task waits on the pidfd (`poll` from another task):
            # that task wakes, as the pidfd is readable, and releases it.
            self.close()

    def ended_by_cuprum(self) -> bool:
        """True when the child died of a signal cuprum sent it."""
        code = self._popen.returncode
        return code is not None and code < 0 and -code in self.signals_sent

    def died_of_sigpipe(self) -> bool:
        """True when the child died of SIGPIPE (its reader went away)."""
        return self._popen.returncode == -signal.SIGPIPE

    def lost_its_reader(self, downstream_done: bool) -> bool:
        """True when the child died of SIGPIPE: its reader went away."""
        return self.died_of_sigpipe()

    def signal_group(self, signum: int) -> None:
        """Send ``signum`` to the child's whole process group."""
        try:
            os.killpg(self.pid, signum)
        except ProcessLookupError:
            return
        except PermissionError:
            # The group leader exited and the group is gone or not ours.
            return
        if self._popen.returncode is None:
            self.signals_sent.add(signum)

    async def signal(self, signum: int) -> None:
        """Send ``signum`` to the child's process group while the child runs."""
        if self._popen.returncode is None:
            self.signal_group(signum)

    def group_alive(self) -> bool:
        """Say whether a live (not zombie) process is left in the child's group."""
        return group_has_live_members(self.pid)

    async def terminate(self, grace: float) -> None:
        """End the child and its group: SIGTERM, then SIGKILL after ``grace``.

        Always returns with the child reaped and its group gone (but for
        processes that left the group). Call it in a shielded scope.
        """
        deadline = time.monotonic() + grace
        if self._popen.returncode is None:
            self.signal_group(signal.SIGTERM)
            with anyio.move_on_after(grace):
                await self.wait()
            if self._popen.returncode is None:
                self.signal_group(signal.SIGKILL)
                await self.wait()
        await self._drain_group(deadline)

    async def end_group(self, grace: float) -> None:
        """End what is left of the group of an exited child.

        SIGTERM, then SIGKILL after ``grace``; used when a background
        descendant still holds the child's pipes.
        """
        if self.group_alive():
            self.signal_group(signal.SIGTERM)
            await self._drain_group(time.monotonic() + grace)

    async def end_command(self, grace: float) -> None:
        """End what is left of the group: for a local child, `end_group`."""
        await self.end_group(grace)

    async def _drain_group(self, deadline: float) -> None:
        delay = 0.002
        while self.group_alive() and time.monotonic() < deadline:
            await anyio.sleep(delay)
            delay = min(delay * 2, 0.05)
        if self.group_alive():
            self.signal_group(signal.SIGKILL)

    def close(self) -> None:
        """Release the pidfd (the child must have been reaped)."""
        if self._pidfd >= 0:
            fd, self._pidfd = self._pidfd, -1
            os.close(fd)


def spawn(
    argv: tuple[str, ...],
    executable: str,
    *,
    stdin: int,
    stdout: int,
    stderr: int,
    cwd: str | None,
    env: Mapping[str, str] | None,
) -> Child:
    """Start ``argv`` in a new session with exactly the given descriptors.

    Raises
    ------
    ProgramNotFoundError, PermissionError, OSError
        When exec fails; nothing is left running.
    """
    try:
        popen = subprocess.Popen(
            argv,
            executable=executable,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            cwd=cwd,
            env=env,
            close_fds=True,
            start_new_session=True,
        )
    except FileNotFoundError as exc:
        forget_executable(executable)
        if cwd is not None and not os.path.isdir(cwd):
            raise
        search = None
        if os.sep not in argv[0]:
            search = (env if env is not None else os.environ).get("PATH", os.defpath)
        if os.path.exists(executable):
            # exec found the file but not what runs it.
            reason = f"{executable} names a #! interpreter (or ELF loader) that does not exist"
            raise ProgramNotFoundError(argv[0], search, reason=reason) from exc
        # The executable was found, then vanished: name the search path used.
        raise ProgramNotFoundError(argv[0], search) from exc
    except PermissionError:
        forget_executable(executable)
        raise
    return Child(popen)
