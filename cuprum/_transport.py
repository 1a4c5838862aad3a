"""The transport seam: how the engine launches and supervises a stage.

The engine knows no transport by name. For each stage it asks the stage's
transport (`transport_for` the resolved host) to `Transport.prepare` a
`Launch`; it takes the run's `Transport.admit` (SSH sessions), wires the
descriptors it opened into a `StageIo`, calls `Launch.spawn` and then
supervises the `ChildProcess` it gets back. Local processes
(`cuprum._local`) and SSH hosts (`cuprum.remote`) are peers behind these
protocols; a new transport implements them in its own module and is picked
by `transport_for` (its one line of wiring).

The shape follows anyio's backends (launch, then supervise a process
object) rather than httpx's request/response transports, because a
transport takes part in every step of a run.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Protocol, runtime_checkable

from ._local import LOCAL_TRANSPORT

if TYPE_CHECKING:
    from ._commands import SafeCmd
    from ._fdstream import FdReceiveStream
    from ._options import ResolvedContext

__all__ = [
    "ChildProcess",
    "Launch",
    "StageIo",
    "StderrSink",
    "Transport",
    "TransportOverride",
    "admit",
    "current_override",
    "overriding",
    "release",
    "transport_for",
]

StderrSink = Callable[[bytes], Awaitable[None]]
"""Where a stage's filtered stderr bytes go (capture, a pipe, a file, nowhere)."""


class ChildProcess(Protocol):
    """A running stage as the engine supervises it.

    ``returncode`` is the command's exit status once reaped (negative for a
    signal, for local children). Every method that ends something returns
    with the child reaped; call those in a shielded scope.
    """

    @property
    def pid(self) -> int: ...

    @property
    def returncode(self) -> int | None: ...

    @property
    def started_at(self) -> float: ...

    @property
    def exited_at(self) -> float | None: ...

    def poll(self) -> int | None:
        """Reap without blocking; the exit status, or None while it runs."""
        ...

    async def wait(self) -> int:
        """Wait for the command to exit and reap it (cancellation leaves it running)."""
        ...

    async def exited(self) -> None:
        """Return once the command has exited, as soon as that is known.

        Unlike `wait`, this does not wait for what the command left
        behind (a transport's channel held open by a background job).
        """
        ...

    async def signal(self, signum: int) -> None:
        """Send ``signum`` to the command's process group (if it still runs)."""
        ...

    async def terminate(self, grace: float) -> None:
        """SIGTERM the command's group, SIGKILL after ``grace``; reap it."""
        ...

    async def end_group(self, grace: float) -> None:
        """End what is left of the group after the command exited (background jobs)."""
        ...

    async def end_command(self, grace: float) -> None:
        """End the command's own group, leaving output in transit to arrive."""
        ...

    def close(self) -> None:
        """Release what the child holds (pidfd, session); it must be reaped."""
        ...

    def ended_by_cuprum(self) -> bool:
        """True when the exit status is the effect of a signal cuprum sent."""
        ...

    def lost_its_reader(self, downstream_done: bool) -> bool:
        """True when the command ended because nobody read its output any more.

        SIGPIPE for a local child; a transport may know other signs (an
        SSH stage that cuprum ended after its downstream finished).
        """
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class StageIo:
    """The descriptors and streams the engine wired for one stage.

    Attributes
    ----------
    stdin, stdout, stderr : int
        The child's descriptors (cuprum closes its copies after spawning).
    lifeline : bool
        ``stdin`` is a pipe kept open, unwritten, until the run ends
        (`Launch.lifeline`).
    merge_stderr : bool
        The command's stderr goes to its stdout (a filtering transport
        merges on its side; ``stderr`` is then the filter's pipe).
    stdout_source : FdReceiveStream | None
        cuprum's end of the stage's stdout, when cuprum reads it.
    stderr_source : FdReceiveStream | None
        cuprum's end of the stage's stderr, when `Launch.read_stderr` reads it.
    stderr_file : IO[bytes] | None
        The file that receives stderr (``lines()``), when there is one.
    """

    stdin: int
    stdout: int
    stderr: int
    lifeline: bool = False
    merge_stderr: bool = False
    stdout_source: FdReceiveStream | None = None
    stderr_source: FdReceiveStream | None = None
    stderr_file: IO[bytes] | None = None


class Launch(Protocol):
    """One stage, prepared by its transport and ready to spawn."""

    @property
    def host(self) -> str | None:
        """Where it runs, for results and events (None: this machine)."""
        ...

    @property
    def remote_pgid(self) -> int | None:
        """The command's process group on a remote host, once known (events)."""
        ...

    @property
    def lifeline(self) -> bool:
        """True when, given no stdin, the stage wants an open, unwritten pipe."""
        ...

    @property
    def in_transit(self) -> int:
        """Bytes of output that may still arrive after the command's group ended."""
        ...

    @property
    def filters_stderr(self) -> bool:
        """True when the stage's stderr must be read through `read_stderr`."""
        ...

    def spawn(self, io: StageIo) -> ChildProcess:
        """Start the stage on the engine's descriptors."""
        ...

    async def read_stderr(self, stream: FdReceiveStream, sink: StderrSink | None) -> None:
        """Read stderr to its end, filtered, handing the bytes to ``sink``."""
        ...

    def stderr_of(self, file: IO[bytes]) -> bytes:
        """The stage's stderr, as written into ``file`` (``lines()``)."""
        ...

    async def settle(self, *, quiet: bool) -> None:
        """Finish the stage once its child is reaped; raise what it reported."""
        ...


@runtime_checkable
class Transport(Protocol):
    """Where stages run: this machine, a remote host, a fake."""

    @property
    def admission_order(self) -> int:
        """Runs take the admissions of several transports in this order."""
        ...

    def check(self, cmd: SafeCmd, ctx: ResolvedContext) -> None:
        """Raise what `prepare` would raise, without preparing anything."""
        ...

    def prepare(self, cmd: SafeCmd, ctx: ResolvedContext) -> Launch:
        """Check what can be checked before spawning, and describe the stage.

        Raises the errors of a stage that cannot start (missing program or
        working directory, a host that is not connected...).
        """
        ...

    async def admit(self, launches: Sequence[Launch]) -> None:
        """Wait until the stages may start (SSH sessions); all or none."""
        ...

    def release(self, launches: Sequence[Launch]) -> None:
        """Give back what `admit` took (idempotent)."""
        ...


class TransportOverride(Protocol):
    """Replaces the transport of every stage prepared while it is in force.

    `cuprum.testing` installs one (through `overriding`) to run fakes in
    place of processes.
    """

    @property
    def connects(self) -> bool:
        """False when a host entered under the override must not connect."""
        ...

    def transport(self, real: Transport) -> Transport:
        """The transport to use instead of ``real``."""
        ...


_override: ContextVar[TransportOverride | None] = ContextVar("cuprum_transport", default=None)


def current_override() -> TransportOverride | None:
    """The override in force in this context, if any."""
    return _override.get()


@contextmanager
def overriding(override: TransportOverride) -> Generator[None]:
    """Put ``override`` in force for the block (and tasks started in it)."""
    token = _override.set(override)
    try:
        yield
    finally:
        _override.reset(token)


def transport_for(host: object) -> Transport:
    """The transport of a resolved host (None: this machine).

    Raises
    ------
    TypeError
        ``host`` is not a transport.
    """
    if host is None:
        real: Transport = LOCAL_TRANSPORT
    elif isinstance(host, Transport):
        real = host
    else:
        raise TypeError(
            "host must be a cuprum.remote.SSHHost or cuprum.remote.LOCAL, "
            f"got {type(host).__name__}"
        )
    override = _override.get()
    return real if override is None else override.transport(real)


async def admit(pairs: Sequence[tuple[Transport, Launch]]) -> None:
    """Take every admission a run needs, transport by transport, in a fixed order.

    A fixed order means two runs never each hold part of what the other
    waits for.
    """
    for transport, launches in _grouped(pairs):
        await transport.admit(launches)


def release(pairs: Sequence[tuple[Transport, Launch]]) -> None:
    """Give back every admission of a run (idempotent)."""
    for transport, launches in _grouped(pairs):
        transport.release(launches)


def _grouped(pairs: Sequence[tuple[Transport, Launch]]) -> list[tuple[Transport, list[Launch]]]:
    groups: dict[int, tuple[Transport, list[Launch]]] = {}
    for transport, launch in pairs:
        groups.setdefault(id(transport), (transport, []))[1].append(launch)
    return sorted(groups.values(), key=lambda group: group[0].admission_order)
