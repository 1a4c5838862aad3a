"""Moving bytes between stages and reading captured output, on either backend.

The byte-moving loops and calls; `cuprum._pumpers` puts each backend's
behind one `Pumper`. The Python backend pumps through `FdReceiveStream` / `FdSendStream` on the
event loop (with `os.splice` between pipes). The Rust backend runs one
blocking call per stream in a worker thread (`anyio.to_thread.run_sync`);
it borrows the descriptors, never closes them, and stops when its
`CancelToken` becomes readable. Python closes the descriptors only after
that thread has returned.
"""

from __future__ import annotations

import errno
import fcntl
import functools
import math
import os
import select
import threading
import time
from collections.abc import Callable
from enum import StrEnum
from typing import Any, TypeVar, final

import anyio
import anyio.lowlevel
import anyio.to_thread

from ._backend import StreamBackend
from ._capture import FIRST_READ, Capture
from ._fdstream import FdReceiveStream, FdSendStream, buffered
from ._native import load_extension

__all__ = [
    "CancelToken",
    "PumpEnd",
    "active_rust_calls",
    "pump",
    "python_pump",
    "rust_consume",
    "rust_pump",
]

T = TypeVar("T")

PUMP_CHUNK = 1 << 16
RUST_PUMP_CHUNK = 1 << 20
RUST_READ_CHUNK = 1 << 20
SPLICE_CHUNK = 1 << 20
# Gathering small writes: a pump woken again within STREAMING seconds of its
# last wake-up, with less than SMALL_MOVE bytes waiting, sleeps GATHER
# seconds before it moves them (at most that much latency, only while a
# stream of small writes is flowing).
STREAMING = 0.002
SMALL_MOVE = 1 << 16
GATHER = 0.001
GATHER_OFF = 0.01
_HAS_SPLICE = hasattr(os, "splice")
_F_GETPIPE_SZ: int = getattr(fcntl, "F_GETPIPE_SZ", 1032)
_SPLICE_FLAGS = getattr(os, "SPLICE_F_MOVE", 0) | getattr(os, "SPLICE_F_NONBLOCK", 0)


class PumpEnd(StrEnum):
    """Why a pump stopped; the values are the names the Rust pump reports."""

    EOF = "eof"
    """The source reached end of file; everything read was delivered."""
    WRITER_GONE = "writer_gone"
    """The reader downstream went away (or the sink was closed)."""
    CANCELLED = "cancelled"
    """The Rust pump saw its `CancelToken` triggered."""


@final
class CancelToken:
    """A descriptor that becomes readable, for good, when triggered.

    An eventfd on Linux, a pipe elsewhere. The Rust engine polls it beside
    the data descriptors.
    """

    __slots__ = ("_read_fd", "_triggered", "_write_fd")

    def __init__(self) -> None:
        self._triggered = False
        if hasattr(os, "eventfd"):
            fd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
            self._read_fd = self._write_fd = fd
        else:
            self._read_fd, self._write_fd = os.pipe()
            for fd in (self._read_fd, self._write_fd):
                os.set_inheritable(fd, False)

    @property
    def fd(self) -> int:
        """The descriptor to poll for readability."""
        return self._read_fd

    def trigger(self) -> None:
        """Make the descriptor readable (idempotent)."""
        if self._triggered or self._write_fd < 0:
            return
        self._triggered = True
        if self._read_fd == self._write_fd:
            os.eventfd_write(self._write_fd, 1)
        else:
            os.write(self._write_fd, b"x")

    def close(self) -> None:
        """Release the descriptors (only once no thread polls them)."""
        fds = {self._read_fd, self._write_fd}
        self._read_fd = self._write_fd = -1
        for fd in fds:
            if fd >= 0:
                os.close(fd)


_active_lock = threading.Lock()
_active_calls = 0


def active_rust_calls() -> int:
    """Return how many Rust pump/consume calls are running in worker threads."""
    return _active_calls


def _in_thread(fn: Callable[..., T], *args: Any) -> T:
    global _active_calls  # noqa: PLW0603 (a process-wide gauge)
    with _active_lock:
        _active_calls += 1
    try:
        return fn(*args)
    finally:
        with _active_lock:
            _active_calls -= 1


def _extension() -> Any:
    module = load_extension()
    if module is None:  # pragma: no cover - resolution already checked it
        raise RuntimeError("the Rust stream backend is not available")
    return module


async def pump(
    source: FdReceiveStream,
    sink: FdSendStream,
    backend: StreamBackend,
    token: CancelToken | None,
    on_bytes: Callable[[int], None],
) -> PumpEnd:
    """Move bytes from ``source`` to ``sink`` until end of file.

    Returns why the pump stopped. A reader that went away downstream ends
    the pump quietly with `PumpEnd.WRITER_GONE`, on both backends.
    ``on_bytes`` is told of every delivered chunk (the Python pump) or of
    the total (the Rust pump, also just before an ``OSError`` propagates),
    so a count survives a pump that is stopped midway.

    Cancellation: the Python pump lets the loop's cancellation propagate.
    The Rust pump's worker thread runs until ``token`` is triggered; it then
    returns `PumpEnd.CANCELLED` (a pending cancellation of the calling task
    is delivered at its next checkpoint).
    """
    if backend is StreamBackend.RUST and token is not None:
        return await rust_pump(source, sink, token, on_bytes)
    return await python_pump(source, sink, on_bytes)


async def rust_pump(
    source: FdReceiveStream,
    sink: FdSendStream,
    token: CancelToken,
    on_bytes: Callable[[int], None],
) -> PumpEnd:
    ext = _extension()
    try:
        result: tuple[str, int] = await anyio.to_thread.run_sync(
            _in_thread,
            ext.pump,
            source.fileno,
            sink.fileno,
            RUST_PUMP_CHUNK,
            token.fd,
            limiter=anyio.CapacityLimiter(1),
        )
    except OSError as exc:
        on_bytes(_moved_before(exc))
        raise
    name, moved = result
    on_bytes(moved)
    return PumpEnd(name)


async def python_pump(
    source: FdReceiveStream, sink: FdSendStream, on_bytes: Callable[[int], None]
) -> PumpEnd:
    if _HAS_SPLICE and (end := await _splice_pump(source, sink, on_bytes)) is not None:
        return end
    while True:
        try:
            data = await source.receive(PUMP_CHUNK)
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            # A source closed under the pump has nothing more to give either.
            return PumpEnd.EOF
        try:
            await sink.send(data)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            return PumpEnd.WRITER_GONE
        on_bytes(len(data))


def _moved_before(exc: OSError) -> int:
    """The bytes the Rust pump wrote before failing with ``exc``."""
    moved: object = getattr(exc, "moved", 0)
    return moved if isinstance(moved, int) else 0


async def _splice_pump(
    source: FdReceiveStream, sink: FdSendStream, on_bytes: Callable[[int], None]
) -> PumpEnd | None:
    """Move bytes with `os.splice` on the event loop; None if splice can't.

    Between two pipes the kernel moves the pages itself, which doubles what
    the Python backend carries. Readiness still comes from anyio, so the
    pump stays cancellable and fair like the stream loop it replaces.
    """
    src, dst = source.fileno, sink.fileno
    flags = _SPLICE_FLAGS
    busy = 0
    started = False
    poller = select.poll()
    last_wake = -math.inf
    gather_from = 0.0  # gathering is off until then
    capacity = _capacity(src)
    full = capacity - 4096  # full: the writer waits for room
    while True:
        try:
            moved = os.splice(src, dst, SPLICE_CHUNK, flags=flags)
        except BlockingIOError:
            busy = 0
            if await _wait_for_either_side(poller, source, sink):
                # Woken by a writer that found the pipe empty. When that
                # happens again and again with little to move (a writer of
                # small pieces, such as `seq` or `grep`), let the pieces
                # gather first: one wake-up instead of hundreds.
                now = time.monotonic()
                if (
                    now >= gather_from
                    and now - last_wake < STREAMING
                    and buffered(src) < SMALL_MOVE
                ):
                    await anyio.sleep(GATHER)
                    if buffered(src) >= full:
                        # The writer is fast enough to fill the pipe meanwhile:
                        # pausing would slow it down. Move at once for a while.
                        gather_from = time.monotonic() + GATHER_OFF
                last_wake = now
            continue
        except (BrokenPipeError, ConnectionResetError):
            return PumpEnd.WRITER_GONE  # the reader downstream is gone: end quietly
        except OSError as exc:
            if exc.errno in (errno.EINVAL, errno.ENOSYS) and not started:
                return None
            raise
        if moved == 0:
            return PumpEnd.EOF
        started = True
        on_bytes(moved)
        busy += 1
        if busy >= 16:
            busy = 0
            await anyio.lowlevel.checkpoint()


def _capacity(fd: int) -> int:
    """The pipe's capacity (64 KiB if it cannot tell)."""
    try:
        return fcntl.fcntl(fd, _F_GETPIPE_SZ)
    except OSError:
        return 1 << 16


async def _wait_for_either_side(
    poller: select.poll, source: FdReceiveStream, sink: FdSendStream
) -> bool:
    """After EAGAIN, wait for the side that is not ready; True if it was the source."""
    src, dst = source.fileno, sink.fileno
    poller.register(src, select.POLLIN)
    poller.register(dst, select.POLLOUT)
    try:
        ready = dict(poller.poll(0))
    finally:
        poller.unregister(src)
        poller.unregister(dst)
    if not ready.get(src, 0) & (select.POLLIN | select.POLLHUP):
        await source.wait_readable()
        return True
    if not ready.get(dst, 0) & (select.POLLOUT | select.POLLERR):
        await sink.wait_writable()
        return False
    # Both ready: the source ran dry and was refilled since the splice.
    await anyio.lowlevel.checkpoint()
    return True


async def rust_consume(source: FdReceiveStream, capture: Capture, token: CancelToken) -> None:
    """Read ``source`` to its end into ``capture``, the bulk in a worker thread.

    The first read happens on the event loop: most commands print little,
    and for them a thread hand-off would cost more than it saves. Only a
    stream that has more to give goes to the Rust ``consume`` call.
    """
    try:
        first = await source.receive(FIRST_READ)
    except (anyio.EndOfStream, anyio.ClosedResourceError):
        return
    capture.add(first)
    limit = None if capture.limit is None else max(0, capture.limit - capture.kept)
    ext = _extension()
    # The pieces go straight into the capture's buffer (`sink`): no bytes
    # object per read, no join at the end.
    _, total = await anyio.to_thread.run_sync(
        _in_thread,
        functools.partial(ext.consume, sink=capture.keep),
        source.fileno,
        limit,
        RUST_READ_CHUNK,
        token.fd,
        limiter=anyio.CapacityLimiter(1),
    )
    capture.count(total)
