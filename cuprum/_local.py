"""The local transport: stages that run as child processes of this one."""

from __future__ import annotations

import errno
import os
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING, final

from ._process import Child, build_env, resolve_executable, spawn

if TYPE_CHECKING:
    from ._commands import SafeCmd
    from ._fdstream import FdReceiveStream
    from ._options import ResolvedContext
    from ._transport import Launch, StageIo, StderrSink

__all__ = ["LOCAL_TRANSPORT", "LocalLaunch", "LocalTransport", "PlainStderr"]


class PlainStderr:
    """For launches whose stderr is plain output: the engine reads it as any other."""

    __slots__ = ()
    filters_stderr = False
    lifeline = False
    in_transit = 0

    async def read_stderr(  # pragma: no cover - filters_stderr is False
        self, stream: FdReceiveStream, sink: StderrSink | None
    ) -> None:
        """Not used: the stage's stderr is read like any output."""
        raise NotImplementedError

    def stderr_of(self, file: IO[bytes]) -> bytes:
        """Read back the stderr file from its start."""
        file.seek(0)
        return file.read()


def _check_cwd(cwd: str | None) -> None:
    if cwd is None:
        return
    if not os.path.exists(cwd):
        raise FileNotFoundError(errno.ENOENT, f"working directory {cwd!r} does not exist", cwd)
    if not os.path.isdir(cwd):
        raise NotADirectoryError(
            errno.ENOTDIR, f"working directory {cwd!r} is not a directory", cwd
        )


@final
class LocalLaunch(PlainStderr):
    """A local stage: its environment built, its executable found."""

    host = None
    remote_pgid = None

    __slots__ = ("_argv", "_cwd", "_env", "_executable")

    def __init__(self, cmd: SafeCmd, ctx: ResolvedContext) -> None:
        self._argv = cmd.argv
        self._cwd = ctx.cwd
        self._env = build_env(ctx.env)
        _check_cwd(ctx.cwd)
        self._executable = resolve_executable(cmd.argv[0], self._env)

    def spawn(self, io: StageIo) -> Child:
        """Start the child in a new session on exactly the given descriptors."""
        return spawn(
            self._argv, self._executable, stdin=io.stdin, stdout=io.stdout, stderr=io.stderr,
            cwd=self._cwd, env=self._env,
        )  # fmt: skip

    async def settle(self, *, quiet: bool) -> None:
        """Nothing to finish once a local child is reaped."""


@final
class LocalTransport:
    """Run stages here, as children in their own sessions."""

    __slots__ = ()
    admission_order = -1

    def __repr__(self) -> str:
        return "LocalTransport()"

    def check(self, cmd: SafeCmd, ctx: ResolvedContext) -> None:
        """Check the working directory and find the executable."""
        _check_cwd(ctx.cwd)
        resolve_executable(cmd.argv[0], build_env(ctx.env))

    def prepare(self, cmd: SafeCmd, ctx: ResolvedContext) -> LocalLaunch:
        """Check the working directory and find the executable.

        Raises
        ------
        ProgramNotFoundError, PermissionError, FileNotFoundError, NotADirectoryError
            Before anything is spawned.
        """
        return LocalLaunch(cmd, ctx)

    async def admit(self, launches: Sequence[Launch]) -> None:
        """Local stages start at once."""

    def release(self, launches: Sequence[Launch]) -> None:
        """Nothing was taken."""


LOCAL_TRANSPORT = LocalTransport()
