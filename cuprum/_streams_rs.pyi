"""Type stubs for the optional Rust stream engine (``crates/cuprum-streams``).

Every descriptor is owned by the caller and only borrowed for the duration
of a call; the extension never closes one. Blocking work runs with the GIL
released. Errors are raised as ``OSError`` (subclasses by ``errno``).
"""

from collections.abc import Callable
from typing import Literal

__all__ = ["__version__", "consume", "pump", "splice_available"]

__version__: str

def splice_available() -> bool:
    """Return whether ``splice(2)`` works here (probed once, then cached)."""

def pump(
    reader_fd: int,
    writer_fd: int,
    buffer_size: int = 65536,
    cancel_fd: int = -1,
    use_splice: bool = True,
) -> tuple[Literal["eof", "writer_gone", "cancelled"], int]:
    """Move bytes from ``reader_fd`` to ``writer_fd``; return ``(end, moved)``.

    ``end`` says why the pump stopped: ``"eof"`` (end of file on the reader,
    all of it written), ``"writer_gone"`` (the writer's reader went away:
    ``EPIPE``/``ECONNRESET``) or ``"cancelled"`` (``cancel_fd`` became
    readable; ``-1``: no cancel descriptor). ``moved`` is the number of
    bytes written.

    Any other I/O failure raises ``OSError`` (subclass by ``errno``;
    ``MemoryError`` if no buffer can be allocated) with an extra ``moved``
    attribute: the bytes written before the failure. Raises ``ValueError``
    if ``buffer_size`` < 1.
    """

def consume(
    reader_fd: int,
    max_output: int | None = None,
    buffer_size: int = 65536,
    cancel_fd: int = -1,
    sink: Callable[[memoryview], object] | None = None,
) -> tuple[bytes, int]:
    """Read ``reader_fd`` to EOF (or until ``cancel_fd`` is readable).

    Keep at most ``max_output`` bytes (``None``: all) and drop the rest;
    return ``(kept_bytes, total_bytes_read)``. With a ``sink``, each kept
    piece is passed to it as it is read (a read-only ``memoryview``, valid
    only during the call) and ``kept_bytes`` is empty; an exception from
    ``sink`` stops the reading and is raised.
    """
