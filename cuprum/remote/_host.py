"""`SSHHost`: the public face of a remote host (a `Master` while connected)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Literal, Self, final

import anyio

from .._errors import RemoteConnectionError
from .._transport import current_override
from ._master import Master
from ._ssh import check_destination, check_options
from ._stage import RemoteStage, admit_on

if TYPE_CHECKING:
    from .._commands import SafeCmd
    from .._options import ResolvedContext
    from .._transport import Launch

__all__ = ["SSHHost", "master_of"]


@final
class SSHHost:
    """A remote host reached through one OpenSSH connection that cuprum owns.

    ``async with SSHHost(...) as host`` starts an OpenSSH ControlMaster
    (``ssh -M -N -o ControlPersist=no``) as a child of this process, waits
    until it answers on its control socket, and checks once that the login
    shell is a POSIX shell. Commands then run on it with ``cmd.on(host)``,
    ``ExecutionContext(host=host)`` or ``sh.scoped(host=host)``; each is a
    session of the master that cuprum opens itself on the control socket
    (OpenSSH's multiplexing protocol), or a local ``ssh`` client through the
    master where it refuses that protocol or ``CUPRUM_REMOTE_CLIENT=ssh``.
    Leaving the block stops the master (``ssh -O exit``, then
    SIGTERM/SIGKILL) and removes its socket directory. `connect_all`
    connects many hosts at once.

    Parameters
    ----------
    destination : str
        What ``ssh`` connects to: a host name, an alias from ssh_config, or
        ``user@host``. It must not start with ``-`` or contain whitespace or
        control characters; it is always passed after ``--``.
    user : str | None
        Login name (``ssh -l``); None: from ssh_config or the destination.
    port : int | None
        Port (``ssh -p``); None: from ssh_config, else 22.
    options : Mapping[str, str | int] | None
        Extra ssh_config options (``-o Name=value``) for the master and the
        commands. They are trusted configuration: ``ProxyCommand`` and
        ``LocalCommand`` run local programs.
    host_keys : {"strict", "accept-new"}
        ``StrictHostKeyChecking=yes`` (default), or ``accept-new`` to
        record the key of a host seen for the first time. Never off.
    max_sessions : int
        The most commands running on this host at once (each is an SSH
        session). Keep it below sshd's ``MaxSessions`` (default 10): cuprum
        uses one more session now and then to signal remote commands.
    connect_timeout : float
        Seconds allowed for connecting and logging in.
    config_file : str | os.PathLike[str] | None
        An ssh_config file to use instead of ``~/.ssh/config`` and
        ``/etc/ssh/ssh_config`` (``ssh -F``).

    Raises
    ------
    ValueError, TypeError
        For an invalid destination, option, ``host_keys`` or limit.

    Examples
    --------
    >>> from cuprum import ECHO, sh
    >>> from cuprum.remote import SSHHost
    >>> async def main() -> None:  # doctest: +SKIP
    ...     async with SSHHost("web1.example.com", user="deploy") as web:
    ...         result = await sh.make(ECHO)("hello").on(web).run()
    ...         assert result.host == "web1.example.com"
    """

    def __init__(
        self,
        destination: str,
        *,
        user: str | None = None,
        port: int | None = None,
        options: Mapping[str, str | int] | None = None,
        host_keys: Literal["strict", "accept-new"] = "strict",
        max_sessions: int = 8,
        connect_timeout: float = 10.0,
        config_file: str | os.PathLike[str] | None = None,
    ) -> None:
        self._destination = check_destination(destination)
        if host_keys not in ("strict", "accept-new"):
            raise ValueError(
                f"host_keys must be 'strict' or 'accept-new', got {host_keys!r} "
                "(cuprum never turns host-key checking off)"
            )
        if isinstance(max_sessions, bool) or not isinstance(max_sessions, int) or max_sessions < 1:  # pyright: ignore[reportUnnecessaryIsInstance]
            raise ValueError(f"max_sessions must be an int >= 1, got {max_sessions!r}")
        if not connect_timeout > 0:
            raise ValueError(f"connect_timeout must be > 0, got {connect_timeout!r}")
        common: list[str] = []
        if config_file is not None:
            common += ["-F", os.fspath(config_file)]
        if user is not None:
            common += ["-l", check_destination(user)]
        if port is not None:
            if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:  # pyright: ignore[reportUnnecessaryIsInstance]
                raise ValueError(f"port must be an int in 1..65535, got {port!r}")
            common += ["-p", str(port)]
        self._common = (*common, *check_options(options))
        self._strict = "yes" if host_keys == "strict" else "accept-new"
        self._max_sessions = max_sessions
        self._connect_timeout = float(connect_timeout)
        self._master: Master | None = None

    def __repr__(self) -> str:
        return f"SSHHost({self._destination!r})"

    @property
    def destination(self) -> str:
        """The destination as given (what results and events report as ``host``)."""
        return self._destination

    @property
    def max_sessions(self) -> int:
        """The most commands that run on this host at once."""
        return self._max_sessions

    @property
    def connected(self) -> bool:
        """True inside ``async with``, while the connection runs."""
        return self._master is not None and self._master.running

    # --- the transport seam (called by cuprum's engine) ---------------------

    @property
    def admission_order(self) -> int:
        """Runs take sessions on several hosts in the order they connected."""
        master = self._master
        return master.order if master is not None else -1

    def check(self, cmd: SafeCmd, ctx: ResolvedContext) -> None:
        """Check the connection and the environment names (engine use)."""
        RemoteStage(master_of(self), cmd, ctx)

    def prepare(self, cmd: SafeCmd, ctx: ResolvedContext) -> RemoteStage:
        """Describe a stage of ``cmd`` on this host (engine use).

        Raises
        ------
        RuntimeError
            The host is not connected (outside ``async with host``).
        RemoteConnectionError
            The connection's master has died.
        ValueError
            An environment name the remote shell cannot take.
        """
        return RemoteStage(master_of(self), cmd, ctx)

    async def admit(self, launches: Sequence[Launch]) -> None:
        """Wait for a session per stage, all of them or none (engine use)."""
        stages = [_stage(launch) for launch in launches]
        if stages:
            await admit_on(stages[0].master, stages)

    def release(self, launches: Sequence[Launch]) -> None:
        """Give the stages' sessions back (idempotent; engine use)."""
        for launch in launches:
            _stage(launch).release()

    async def __aenter__(self) -> Self:
        """Connect: start the master and probe the login shell.

        Raises
        ------
        RemoteConnectionError
            The host cannot be reached, the login or the host-key check
            fails, or the login shell is not a POSIX shell.
        ProgramNotFoundError
            ``ssh`` is not installed here.
        RuntimeError
            The host is already connected.

        Cancellation
        ------------
        The master is stopped and its directory removed (shielded) before
        the cancellation propagates.
        """
        if self._master is not None:
            raise RuntimeError(f"{self!r} is already connected")
        override = current_override()
        if override is not None and not override.connects:
            return self  # cuprum.testing fakes the commands: nothing to connect
        master = Master(
            self._destination, common=self._common, strict=self._strict,
            max_sessions=self._max_sessions, connect_timeout=self._connect_timeout,
        )  # fmt: skip
        self._master = master
        try:
            await master.start()
        except BaseException:
            self._master = None
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Disconnect: ``ssh -O exit``, then SIGTERM/SIGKILL of the master (shielded).

        Cancellation
        ------------
        Shielded: the master is always stopped and its socket removed.
        """
        master, self._master = self._master, None
        if master is not None:
            with anyio.CancelScope(shield=True):
                await master.stop()


def _stage(launch: Launch) -> RemoteStage:
    assert isinstance(launch, RemoteStage)
    return launch


def master_of(host: SSHHost) -> Master:
    """The running `Master` of ``host`` (for the engine).

    Raises
    ------
    RuntimeError
        The host is not connected (outside ``async with host``).
    RemoteConnectionError
        The connection's master has died.
    """
    master = host._master  # pyright: ignore[reportPrivateUsage] - this module owns SSHHost
    if master is None:
        raise RuntimeError(f"{host!r} is not connected: run commands inside `async with host:`")
    if not master.running:
        raise RemoteConnectionError(host.destination, master.why_stopped(), what="no connection to")
    return master
