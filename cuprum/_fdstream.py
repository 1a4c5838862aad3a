"""anyio byte streams over raw pipe descriptors that cuprum owns.

The descriptors are non-blocking and driven by anyio's readiness waiting
(`anyio.wait_readable` / `anyio.wait_writable`), which works on asyncio,
uvloop and trio. Closing a stream while a task waits on it calls
`anyio.notify_closing` first, so that task wakes with `ClosedResourceError`
instead of waiting on a number the kernel may hand out again. Every wait
on a stream's descriptor goes through the stream (`wait_readable`,
`wait_writable`), so the stream knows.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import sys
import termios
from typing import final

import anyio
import anyio.abc
import anyio.lowlevel

__all__ = ["PIPE_SIZE", "FdReceiveStream", "FdSendStream", "make_pipe"]

PIPE_SIZE = 1 << 20
"""Pipe capacity cuprum asks for (F_SETPIPE_SZ); the kernel may refuse."""

_F_SETPIPE_SZ: int | None = getattr(fcntl, "F_SETPIPE_SZ", None)
# Reads that find data keep the loop busy; yield now and then so other
# tasks (and cancellation) get their turn.
_YIELD_EVERY = 16


def make_pipe(*, size: int | None = PIPE_SIZE) -> tuple[int, int]:
    """Create a close-on-exec pipe, enlarged to ``size`` where allowed."""
    read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
    if size is not None and _F_SETPIPE_SZ is not None:
        # Unprivileged processes are capped by /proc/sys/fs/pipe-max-size
        # and per-user quotas: the default capacity is fine then.
        with contextlib.suppress(OSError):
            fcntl.fcntl(write_fd, _F_SETPIPE_SZ, size)
    return read_fd, write_fd


def buffered(fd: int) -> int:
    """Bytes waiting in the pipe ``fd`` for its reader (0 if it cannot tell)."""
    try:
        raw = fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0")
    except OSError:
        return 0
    return int.from_bytes(raw, sys.byteorder)


def has_writers(fd: int) -> bool:
    """Say whether some process still holds the write end of the pipe ``fd``."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return not any(mask & select.POLLHUP for _, mask in poller.poll(0))


def _close(fd: int, *, waited_on: bool) -> None:
    # Only a task waiting on the descriptor needs waking (a finished wait
    # leaves no registration behind); closing one nobody waits on is a
    # plain close, without the event loop's bookkeeping.
    if waited_on:
        close_fd(fd)
    else:
        os.close(fd)


def close_fd(fd: int) -> None:
    """Close ``fd`` after waking any task that waits on it."""
    try:
        anyio.notify_closing(fd)
    except RuntimeError:
        pass  # no event loop here, so nobody can be waiting on it
    finally:
        os.close(fd)


@final
class FdReceiveStream(anyio.abc.ByteReceiveStream):
    """A `ByteReceiveStream` over a pipe's read end, which it owns and closes."""

    __slots__ = ("_busy", "_fd", "_waiting")

    def __init__(self, fd: int) -> None:
        os.set_blocking(fd, False)
        self._fd = fd
        self._busy = 0
        self._waiting = False

    @property
    def fileno(self) -> int:
        """The descriptor (-1 once closed)."""
        return self._fd

    async def receive(self, max_bytes: int = 65536) -> bytes:
        """Return the next bytes; raise `anyio.EndOfStream` at end of file."""
        # A cancellation point before any byte is taken: once read, the
        # bytes are returned, never lost to a cancellation.
        await anyio.lowlevel.checkpoint_if_cancelled()
        while True:
            if self._fd < 0:
                raise anyio.ClosedResourceError
            try:
                data = os.read(self._fd, max_bytes)
            except BlockingIOError:
                self._busy = 0
                await self.wait_readable()
                continue
            if not data:
                raise anyio.EndOfStream
            self._busy += 1
            if self._busy >= _YIELD_EVERY:
                self._busy = 0
                await anyio.lowlevel.cancel_shielded_checkpoint()
            return data

    def receive_nowait(self, max_bytes: int = 65536) -> bytes | None:
        """Return the bytes waiting now (``b""`` at end of file), or None if none yet.

        Not a checkpoint: the caller makes one.
        """
        if self._fd < 0:
            raise anyio.ClosedResourceError
        try:
            return os.read(self._fd, max_bytes)
        except BlockingIOError:
            return None

    async def wait_readable(self) -> None:
        """Wait until the descriptor is readable (or closed under the wait)."""
        self._waiting = True
        try:
            await anyio.wait_readable(self._fd)
        finally:
            self._waiting = False

    async def aclose(self) -> None:
        """Close the descriptor (idempotent)."""
        self.close()
        await anyio.lowlevel.checkpoint()

    def close(self) -> None:
        """Close the descriptor now, from sync code (idempotent)."""
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            _close(fd, waited_on=self._waiting)


@final
class FdSendStream(anyio.abc.ByteSendStream):
    """A `ByteSendStream` over a pipe's write end, which it owns and closes.

    A reader that went away surfaces as `anyio.BrokenResourceError`.
    """

    __slots__ = ("_fd", "_waiting")

    def __init__(self, fd: int) -> None:
        os.set_blocking(fd, False)
        self._fd = fd
        self._waiting = False

    @property
    def fileno(self) -> int:
        """The descriptor (-1 once closed)."""
        return self._fd

    async def send(self, item: bytes) -> None:
        """Write all of ``item``, waiting for room as needed."""
        await anyio.lowlevel.checkpoint_if_cancelled()
        view = memoryview(item)
        while view:
            if self._fd < 0:
                raise anyio.ClosedResourceError
            try:
                written = os.write(self._fd, view)
            except BlockingIOError:
                await self.wait_writable()
                continue
            except (BrokenPipeError, ConnectionResetError) as exc:
                raise anyio.BrokenResourceError from exc
            view = view[written:]

    async def wait_writable(self) -> None:
        """Wait until the descriptor is writable (or closed under the wait)."""
        self._waiting = True
        try:
            await anyio.wait_writable(self._fd)
        finally:
            self._waiting = False

    async def aclose(self) -> None:
        """Close the descriptor (idempotent)."""
        self.close()
        await anyio.lowlevel.checkpoint()

    def close(self) -> None:
        """Close the descriptor now, from sync code (idempotent)."""
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            _close(fd, waited_on=self._waiting)
