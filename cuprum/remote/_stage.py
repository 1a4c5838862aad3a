"""The remote half of a stage: its session, its command string, its stderr markers.

A stage whose resolved host is set runs as a session of the host's master,
opened in-process on its control socket, or as a local ``ssh`` client where
the master refuses that (`RemoteStage.spawn`). The wrapper's marker lines on the
client's stderr carry the remote process group, the exit status and the
wrapper's errors; `RemoteStage.feed` strips them from the stream (the stage's
stderr reader calls it), or `RemoteStage.refresh` reads them from the stderr
file that ``lines()`` uses. `settle` turns them into errors once the client
is gone.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Sequence
from typing import IO, TYPE_CHECKING, final

import anyio

from .._errors import ProgramNotFoundError, RemoteConnectionError
from .._fdstream import buffered
from .._process import spawn
from ._child import Client, RemoteChild
from ._mux import open_session
from ._wrapper import MarkerFilter, new_token, remote_command, validate_env_name

if TYPE_CHECKING:
    from .._commands import SafeCmd
    from .._fdstream import FdReceiveStream
    from .._options import ResolvedContext
    from .._transport import StageIo, StderrSink
    from ._master import Master

__all__ = ["RemoteStage", "admit_on"]

_TAIL = 8192  # bytes of stderr kept for error messages
_POLL = 0.02


@final
class RemoteStage:
    """A stage that runs on an `SSHHost`: the transport's `Launch`.

    Locally it is an ``ssh`` client through the host's master; everything
    remote (session, command string, markers, kill protocol) lives here.
    """

    lifeline = True  # given no stdin, the channel's stdin stays open, unwritten
    filters_stderr = True  # the wrapper's markers travel on stderr
    # What can still be on its way after the remote group ended: sshd's
    # buffer and channel window (2 MiB each), the socket buffers, the
    # master's buffer. Generous, since losing output is worse than a late stop.
    in_transit = 16 << 20

    def __init__(self, master: Master, cmd: SafeCmd, ctx: ResolvedContext) -> None:
        self.master = master
        for name in ctx.env or {}:
            validate_env_name(name, master.destination)
        self.cmd = cmd
        self.ctx = ctx
        self.token: str = new_token()
        self.markers: MarkerFilter = MarkerFilter(self.token)
        # Called once when the exit report is read (`RemoteChild.wait`'s linger).
        self.on_report: Callable[[], None] | None = None
        self.io: StageIo | None = None  # the engine's wiring, once spawned
        self.child: RemoteChild | None = None
        self.tail: bytearray = bytearray()
        self.eof: bool = False
        self.reading: bool = False  # a reader task is feeding the markers
        self.file_out: bytearray = bytearray()
        self._file_pos = 0
        self._borrower = object()
        self._holding = False

    @property
    def host(self) -> str:
        """The host's destination, as results and events report it."""
        return self.master.destination

    destination = host

    @property
    def remote_pgid(self) -> int | None:
        """The remote command's process group, once the wrapper reported it."""
        return self.markers.pgid

    @property
    def on_lifeline(self) -> bool:
        """True when the stage was spawned with the lifeline as its stdin."""
        return self.io is not None and self.io.lifeline

    @property
    def stream(self) -> FdReceiveStream | None:
        """The stderr pipe the reader task reads (the run engine)."""
        return self.io.stderr_source if self.io is not None else None

    # --- sessions ------------------------------------------------------------

    async def acquire(self) -> None:
        """Take a session of the host's limiter."""
        limiter = self.master.limiter
        # A free session is taken without a trip through the event loop, but
        # a run whose time is up (or that is cancelled) takes none.
        await anyio.lowlevel.checkpoint_if_cancelled()
        try:
            limiter.acquire_on_behalf_of_nowait(self._borrower)
        except anyio.WouldBlock:
            await limiter.acquire_on_behalf_of(self._borrower)
        self._holding = True

    def release(self) -> None:
        """Give the session back (idempotent)."""
        if self._holding:
            self._holding = False
            self.master.limiter.release_on_behalf_of(self._borrower)

    # --- the client ----------------------------------------------------------

    def spawn(self, io: StageIo) -> RemoteChild:
        """Start the local ``ssh`` client on the engine's descriptors.

        Raises
        ------
        RemoteConnectionError
            The host's connection is gone: its ``async with`` block ended
            while this run waited for a session, or the master died.
        """
        if not self.master.running:
            raise RemoteConnectionError(
                self.destination, self.master.why_stopped(), what="no connection to"
            )
        remote = remote_command(
            self.cmd.argv, token=self.token, lifeline=io.lifeline,
            merge_stderr=io.merge_stderr, grace=self.ctx.cancel_grace, cwd=self.ctx.cwd,
            env=self.ctx.env, keep_background=self.ctx.keep_background,
            direct=self.master.direct,
        )  # fmt: skip
        master = self.master
        client: Client
        if master.mux_pid is not None and master.socket is not None:
            try:
                client = open_session(
                    master.socket, remote, (io.stdin, io.stdout, io.stderr),
                    master_pid=master.mux_pid, on_failure=self.note_failure,
                    env=master.send_env(),
                )  # fmt: skip
            except OSError as exc:
                raise RemoteConnectionError(
                    self.destination,
                    f"the ControlMaster's socket failed: {exc}",
                    what="no connection to",
                ) from exc
        else:
            argv = master.client_argv(remote)
            client = spawn(argv, master.ssh, stdin=io.stdin, stdout=io.stdout,
                           stderr=io.stderr, cwd=None, env=None)  # fmt: skip
        # Until the reader task is done, nobody else may read the stderr
        # pipe (two readers of one descriptor is an error on trio). A
        # reader that never started leaves it set: waits then time out.
        self.io = io
        self.reading = io.stderr_source is not None
        self.child = RemoteChild(client, self)
        return self.child

    def note_failure(self, reason: str) -> None:
        """Keep why the master refused or lost the session, for the error."""
        self.tail += f"{reason}\n".encode()
        del self.tail[:-_TAIL]

    # --- stderr --------------------------------------------------------------

    def feed(self, data: bytes) -> bytes:
        """Filter stderr bytes: note the markers, return the rest."""
        out = self.markers.feed(data)
        if out:
            self.tail += out
            del self.tail[:-_TAIL]
        if self.markers.exit_code is not None and self.on_report is not None:
            report, self.on_report = self.on_report, None
            report()
        return out

    def end(self) -> bytes:
        """End of stderr: return what the filter held back."""
        self.eof = True
        out = self.markers.finish()
        self.tail += out
        del self.tail[:-_TAIL]
        return out

    async def read_stderr(self, stream: FdReceiveStream, sink: StderrSink | None) -> None:
        """Read the client's stderr to its end, without the wrapper's markers.

        The markers carry the remote exit status and process group, so
        this reader runs whatever the options; the rest goes to ``sink``.
        """
        try:
            while True:
                try:
                    data = await stream.receive(1 << 16)
                except (anyio.EndOfStream, anyio.ClosedResourceError):
                    break
                out = self.feed(data)
                if out and sink is not None:
                    await sink(out)
            out = self.end()
            if out and sink is not None:
                await sink(out)
        finally:
            self.reading = False

    def stderr_of(self, file: IO[bytes]) -> bytes:
        """The stage's stderr from the file ``lines()`` gave it, markers removed."""
        self.refresh()
        return bytes(self.file_out) + self.end()

    def refresh(self) -> None:
        """Read what is new in the stderr file (``lines()`` has no reader task)."""
        file = self.io.stderr_file if self.io is not None else None
        if file is None:
            return
        data = os.pread(file.fileno(), 1 << 20, self._file_pos)
        while data:
            self._file_pos += len(data)
            self.file_out += self.feed(data)
            data = os.pread(file.fileno(), 1 << 20, self._file_pos)

    async def pull(self, timeout: float) -> None:
        """Let more stderr be parsed, for up to ``timeout`` seconds.

        While the reader task runs it does the parsing; after it stopped
        (cleanup), the pipe is read here, the output dropped.
        """
        self.refresh()
        stream = self.stream
        if self.reading or stream is None or self.eof or stream.fileno < 0:
            await anyio.sleep(min(timeout, _POLL))
            return
        with anyio.move_on_after(timeout):
            try:
                self.feed(await stream.receive())
            except (anyio.EndOfStream, anyio.ClosedResourceError):
                self.end()

    def output_pending(self) -> bool:
        """True when output waits in cuprum's pipes for a (slow) reader.

        Stdout is read by the next stage's pump, the capture or the caller;
        stderr by cuprum's marker filter, which waits itself when the
        caller's pipe it relays to (``open(stderr=True)``) is full.
        """
        return any(
            stream is not None and stream.fileno >= 0 and buffered(stream.fileno) > 0
            for stream in (self.io.stdout_source if self.io else None, self.stream)
        )

    # --- after the client exited ---------------------------------------------

    async def settle(self, *, quiet: bool) -> None:
        """Finish the remote side once the client is reaped; raise its errors.

        A client that died without the wrapper's exit report (killed,
        connection lost) may leave the remote group running: it is ended
        through the master. Unless ``quiet`` (timeout, cancellation) or
        cuprum ended the stage, a wrapper report or an ``ssh`` failure
        becomes the error.

        Raises
        ------
        ProgramNotFoundError, PermissionError, FileNotFoundError, NotADirectoryError
            The remote program or working directory is missing or unusable.
        RemoteConnectionError
            ``ssh`` exited with 255 and the command reported no exit status.
        """
        child = self.child
        if child is None:
            return
        self.refresh()
        markers = self.markers
        quiet = quiet or child.ended_by_cuprum()
        lost = markers.exit_code is None and markers.problem is None and child.client_code == 255
        if markers.exit_code is None and markers.problem is None and markers.pgid is not None:
            await child.end_remote(self.ctx.cancel_grace)
        if quiet:
            return
        self._raise_problem()
        if lost:
            raise RemoteConnectionError(
                self.destination, bytes(self.tail).decode("utf-8", "replace"),
                what="lost the connection to",
            )  # fmt: skip

    def _raise_problem(self) -> None:
        host, cwd, program = self.destination, self.ctx.cwd, self.cmd.argv[0]
        match self.markers.problem:
            case "notfound":
                raise ProgramNotFoundError(
                    program, None if "/" in program else self.markers.detail, host=host
                )
            case "noexec":
                raise PermissionError(
                    errno.EACCES, f"program {program!r} on {host} is not executable", program
                )
            case "nocwd":
                raise FileNotFoundError(
                    errno.ENOENT, f"working directory {cwd!r} does not exist on {host}", cwd
                )
            case "notdir":
                raise NotADirectoryError(
                    errno.ENOTDIR, f"working directory {cwd!r} on {host} is not a directory", cwd
                )
            case "cwdperm":
                raise PermissionError(
                    errno.EACCES, f"working directory {cwd!r} on {host} cannot be entered", cwd
                )
            case _:
                return


async def admit_on(master: Master, stages: Sequence[RemoteStage]) -> None:
    """Take the sessions a run needs on one host.

    Several sessions are taken under the host's `multi_lock`, so two runs
    never each hold part of what the other waits for.

    Raises
    ------
    ValueError
        A pipeline needs more sessions on the host than it allows.
    """
    if len(stages) > master.max_sessions:
        raise ValueError(
            f"the pipeline runs {len(stages)} stages on {master.destination} at once, "
            f"more than its max_sessions={master.max_sessions}"
        )
    if len(stages) == 1:
        await stages[0].acquire()
        return
    async with master.multi_lock:
        for stage in stages:
            await stage.acquire()
