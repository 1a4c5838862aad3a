"""Moving bytes between stages and reading captured output, on either backend.

The Python backend pumps through `FdReceiveStream` / `FdSendStream` on the
event loop. The Rust backend runs one blocking call per stream in a worker
thread (`anyio.to_thread.run_sync`); it borrows the descriptors, never
closes them, and stops when its `CancelToken` becomes readable. Python
closes the descriptors only after that thread has returned.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar, final

import anyio
import anyio.to_thread

from ._backend import StreamBackend
from ._capture import Capture
from ._fdstream import FdReceiveStream, FdSendStream
from ._native import load_extension

__all__ = ["CancelToken", "active_rust_calls", "pump", "rust_consume"]

T = TypeVar("T")

PUMP_CHUNK = 1 << 16
RUST_PUMP_CHUNK = 1 << 20
RUST_READ_CHUNK = 1 << 16


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
) -> None:
    """Move bytes from ``source`` to ``sink`` until end of file.

    A reader that went away downstream ends the pump quietly, on both
    backends. ``on_bytes`` is told of every delivered chunk (the Python
    pump) or of the total (the Rust pump), so a count survives a pump that
    is stopped midway.
    """
    if backend is StreamBackend.RUST and token is not None:
        ext = _extension()
        moved: int = await anyio.to_thread.run_sync(
            _in_thread,
            ext.pump,
            source.fileno,
            sink.fileno,
            RUST_PUMP_CHUNK,
            token.fd,
            limiter=anyio.CapacityLimiter(1),
        )
        on_bytes(moved)
        return
    while True:
        try:
            data = await source.receive(PUMP_CHUNK)
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            return
        try:
            await sink.send(data)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            return
        on_bytes(len(data))


async def rust_consume(source: FdReceiveStream, capture: Capture, token: CancelToken) -> None:
    """Read ``source`` to its end in a worker thread, into ``capture``."""
    ext = _extension()
    data, total = await anyio.to_thread.run_sync(
        _in_thread,
        ext.consume,
        source.fileno,
        capture.limit,
        RUST_READ_CHUNK,
        token.fd,
        limiter=anyio.CapacityLimiter(1),
    )
    capture.set(data, total)
