"""An in-process client of OpenSSH's ControlMaster protocol (``PROTOCOL.mux``, version 4).

A remote stage's session is opened by writing to the control socket of the
master cuprum owns: a hello, a ``MUX_C_NEW_SESSION`` request, then the
stage's stdin, stdout and stderr descriptors, one per message, as
``SCM_RIGHTS``. The master answers ``MUX_S_SESSION_OPENED``, then
``MUX_S_EXIT_MESSAGE`` with the command's exit status, and closes the
socket once the session's last output is written to the descriptors. So
a remote stage costs no process on this machine, and the descriptors are
the engine's own pipes: pumps, capture, ``lines()`` and ``open()`` see no
difference.

`MuxSession` has the interface of `cuprum._process.Child` that
`RemoteChild` uses: the session is "reaped" when the master closes the
socket, its status is the exit message's (255 without one, as ``ssh``
exits), and ending it closes the socket, which makes the master close the
channel, as killing an ``ssh`` client would. Every reply is checked: a
protocol version other than 4, an unknown message, a refusal or a reply
that does not fit ends the session with a reason, never a hang.
"""

from __future__ import annotations

import os
import signal
import socket
import struct
import time
from collections.abc import Callable, Sequence
from typing import final

import anyio

__all__ = ["MuxError", "MuxSession", "alive_check", "open_session"]

HELLO = 0x00000001
NEW_SESSION = 0x10000002
ALIVE_CHECK = 0x10000004
S_OK = 0x80000001
S_PERMISSION_DENIED = 0x80000002
S_FAILURE = 0x80000003
S_EXIT_MESSAGE = 0x80000004
S_ALIVE = 0x80000005
S_SESSION_OPENED = 0x80000006
S_TTY_ALLOC_FAIL = 0x80000008
VERSION = 4
NO_ESCAPE = 0xFFFFFFFF
_REQUEST = 1  # one request per connection: its id is always the same
_MAX_PACKET = 256 * 1024
SEND_TIMEOUT = 5.0  # bound on writing a request to a master that stopped reading


class MuxError(Exception):
    """The master refused the protocol or answered something unexpected."""


def _u32(value: int) -> bytes:
    return struct.pack(">I", value)


def _string(data: bytes) -> bytes:
    return _u32(len(data)) + data


def _packet(*fields: bytes) -> bytes:
    body = b"".join(fields)
    return _u32(len(body)) + body


def _connect(path: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(SEND_TIMEOUT)
        sock.connect(path)
    except BaseException:
        sock.close()
        raise
    return sock


def new_session_request(command: str, env: Sequence[str] = ()) -> bytes:
    """The hello and the request for a session without tty, agent or X11.

    ``env`` holds ``NAME=value`` strings, as ``ssh`` sends for ``SendEnv``.
    """
    return _packet(_u32(HELLO), _u32(VERSION)) + _packet(
        _u32(NEW_SESSION), _u32(_REQUEST), _string(b""),
        _u32(0), _u32(0), _u32(0), _u32(0),  # tty, X11, agent, subsystem
        _u32(NO_ESCAPE), _string(b""), _string(command.encode()),
        *(_string(os.fsencode(entry)) for entry in env),
    )  # fmt: skip


class _Replies:
    """Splits the bytes read from the socket into (type, body) messages."""

    __slots__ = ("_buffer", "greeted")

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.greeted = False

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self._buffer += data
        messages: list[tuple[int, bytes]] = []
        while len(self._buffer) >= 4:
            (size,) = struct.unpack_from(">I", self._buffer)
            if not 4 <= size <= _MAX_PACKET:
                raise MuxError(f"a reply of {size} bytes")
            if len(self._buffer) < 4 + size:
                break
            body = bytes(self._buffer[4 : 4 + size])
            del self._buffer[: 4 + size]
            (kind,) = struct.unpack_from(">I", body)
            if not self.greeted:
                if kind != HELLO or len(body) < 8:
                    raise MuxError(f"no hello but message {kind:#x}")
                (version,) = struct.unpack_from(">I", body, 4)
                if version != VERSION:
                    raise MuxError(f"protocol version {version}, cuprum speaks {VERSION}")
                self.greeted = True
                continue
            messages.append((kind, body[4:]))
        return messages


def _reason(body: bytes) -> str:
    if len(body) >= 8:
        (size,) = struct.unpack_from(">I", body, 4)
        return body[8 : 8 + size].decode("utf-8", "replace")
    return "no reason given"


@final
class MuxSession:
    """One session through the master's control socket, seen as a local child.

    Parameters
    ----------
    sock : socket.socket
        The connected control socket, the request already written.
    master_pid : int
        The master's pid, reported as the stage's pid: the local process
        that carries the session.
    on_failure : Callable[[str], None]
        Told why, when the master refuses the session or the protocol breaks.
    """

    __slots__ = (
        "_lock", "_on_failure", "_replies", "_sock", "_waiter", "exit_value", "exited_at", "opened",
        "pid",
        "returncode", "signals_sent", "started_at",
    )  # fmt: skip

    def __init__(
        self, sock: socket.socket, master_pid: int, on_failure: Callable[[str], None]
    ) -> None:
        self._sock: socket.socket | None = sock
        self._replies = _Replies()
        self._on_failure = on_failure
        self._lock = anyio.Lock(fast_acquire=True)  # no trip through the loop when free
        self._waiter: socket.socket | None = None  # the socket a task waits on
        self.pid: int = master_pid
        self.started_at: float = time.monotonic()
        self.exited_at: float | None = None
        self.returncode: int | None = None
        self.exit_value: int | None = None
        self.opened = False
        self.signals_sent: set[int] = set()
        sock.setblocking(False)

    def _finish(self, code: int, failure: str | None = None) -> None:
        if self.returncode is None:
            self.returncode = code
            self.exited_at = time.monotonic()
            if failure is not None:
                self._on_failure(failure)
        self.close()

    def _handle(self, kind: int, body: bytes) -> None:
        if kind == S_SESSION_OPENED and not self.opened:
            self.opened = True
        elif kind == S_EXIT_MESSAGE and self.opened and len(body) >= 8:
            # The session is over once the master also closes the socket:
            # it does after the last output is written to our descriptors.
            (self.exit_value,) = struct.unpack_from(">I", body, 4)
        elif kind in {S_PERMISSION_DENIED, S_FAILURE}:
            raise MuxError(f"the ControlMaster refused the session: {_reason(body)}")
        elif kind != S_TTY_ALLOC_FAIL:  # harmless: no tty was asked for
            raise MuxError(f"unexpected message {kind:#x} from the ControlMaster")

    def poll(self) -> int | None:
        """Read what the master sent; return the status once the session is over."""
        sock = self._sock
        if self.returncode is not None or sock is None:
            return self.returncode
        try:
            while True:
                try:
                    data = sock.recv(65536)
                except (BlockingIOError, InterruptedError):
                    return None
                if not data:
                    if self.exit_value is None:
                        self._finish(255, "the ControlMaster ended the session without a status")
                    else:
                        self._finish(self.exit_value)
                    return self.returncode
                for kind, body in self._replies.feed(data):
                    self._handle(kind, body)
        except MuxError as exc:
            self._finish(255, str(exc))
        except OSError as exc:
            self._finish(255, f"the ControlMaster's socket failed: {exc}")
        return self.returncode

    async def wait(self) -> int:
        """Wait until the master closed the session; return its status.

        Cancellation: the session is left open; `terminate` ends it.
        """
        async with self._lock:  # one task at a time waits on the socket
            while (code := self.poll()) is None:
                sock = self._sock
                assert sock is not None
                self._waiter = sock
                try:
                    await anyio.wait_readable(sock)
                except anyio.ClosedResourceError:
                    pass  # ended meanwhile by another task: poll() says how
                finally:
                    self._waiter = None
                    if self._sock is None:
                        sock.close()  # close() left it to us: see there
        return code

    async def terminate(self, grace: float) -> None:
        """End the session: the master closes the channel when the socket closes."""
        if self.poll() is None:
            self.signals_sent.add(signal.SIGTERM)
            self._finish(-signal.SIGTERM)

    async def end_group(self, grace: float) -> None:
        """Nothing runs on this machine for a session: nothing to end."""

    def close(self) -> None:
        """Close the control socket (idempotent); an open session ends with it.

        While a task waits on the socket, it is only woken here and closes
        the socket itself once its wait is over: closing first would let a
        new descriptor take the number while the old wait still holds a
        registration for it (anyio's asyncio backend would then drop the
        new one).
        """
        sock, self._sock = self._sock, None
        if sock is not None:
            anyio.notify_closing(sock)
            if self._waiter is not sock:
                sock.close()


def open_session(
    path: str,
    command: str,
    fds: tuple[int, int, int],
    *,
    master_pid: int,
    on_failure: Callable[[str], None],
    env: Sequence[str] = (),
) -> MuxSession:
    """Ask the master at ``path`` for a session running ``command`` on ``fds``.

    Only writes: the replies are read by `MuxSession.poll` and `wait`.

    Raises
    ------
    OSError
        The control socket cannot be reached or written to (a timeout after
        `SEND_TIMEOUT` seconds when the master stopped reading).
    """
    sock = _connect(path)
    try:
        sock.sendall(new_session_request(command, env))
        for fd in fds:  # one descriptor per message, as the master reads them
            socket.send_fds(sock, [b"\0"], [fd])
    except BaseException:
        sock.close()
        raise
    return MuxSession(sock, master_pid, on_failure)


async def alive_check(path: str, timeout: float) -> int:
    """Say hello and ask the master at ``path`` for its pid.

    Raises
    ------
    MuxError
        The master speaks another protocol version or answers something else.
    OSError, TimeoutError
        The socket cannot be used, or no answer within ``timeout``.
    """
    sock = _connect(path)
    try:
        sock.sendall(
            _packet(_u32(HELLO), _u32(VERSION)) + _packet(_u32(ALIVE_CHECK), _u32(_REQUEST))
        )
        sock.setblocking(False)
        replies = _Replies()
        with anyio.fail_after(timeout):
            while True:
                await anyio.wait_readable(sock)
                data = sock.recv(4096)
                if not data:
                    raise MuxError("the ControlMaster closed the socket before answering")
                for kind, body in replies.feed(data):
                    if kind == S_ALIVE and len(body) >= 8:
                        (pid,) = struct.unpack_from(">I", body, 4)
                        return pid
                    raise MuxError(f"unexpected message {kind:#x} to an alive check")
    finally:
        anyio.notify_closing(sock)
        sock.close()
