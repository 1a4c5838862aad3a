"""Opening the descriptors a run needs, and closing every one of them."""

from __future__ import annotations

import os
import stat
from typing import IO, final

from ._fdstream import PIPE_SIZE, FdReceiveStream, FdSendStream, make_pipe

__all__ = ["FdSet"]


@final
class FdSet:
    """Every descriptor one run opened, closed together.

    Streams hand their descriptors over to their own ``close``; plain
    descriptors (the child's ends, files, /dev/null) are closed by
    `close_child_ends` right after spawning or by `close_all`.
    """

    __slots__ = ("_child_ends", "_kept", "_streams")

    def __init__(self) -> None:
        self._child_ends: list[int] = []
        self._kept: list[int] = []
        self._streams: list[FdReceiveStream | FdSendStream] = []

    def child_end(self, fd: int) -> int:
        """Track ``fd``, which only a child needs, and return it."""
        self._child_ends.append(fd)
        return fd

    def keep(self, fd: int) -> int:
        """Track ``fd``, which cuprum itself uses until the run ends, and return it."""
        self._kept.append(fd)
        return fd

    def devnull(self, *, write: bool) -> int:
        """Open /dev/null for a child's stream."""
        flags = (os.O_WRONLY if write else os.O_RDONLY) | os.O_CLOEXEC
        return self.child_end(os.open(os.devnull, flags))

    def open_path(self, path: os.PathLike[str], *, write: bool, append: bool = False) -> int:
        """Open a file for a child's stream (created and truncated for writing)."""
        if write:
            flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC
            flags |= os.O_APPEND if append else os.O_TRUNC
            return self.child_end(os.open(path, flags, 0o666))
        return self.child_end(os.open(path, os.O_RDONLY | os.O_CLOEXEC))

    @staticmethod
    def file_fd(file: IO[bytes]) -> int:
        """Return the descriptor of an open binary file (not ours to close)."""
        file.flush()
        return file.fileno()

    def reader(self, *, large: bool = False, track: bool = True) -> tuple[FdReceiveStream, int]:
        """A pipe whose read end cuprum keeps; returns (stream, child's write end).

        ``large`` asks for a 1 MiB pipe, for streams that carry bulk data;
        ``track=False`` leaves the stream for its caller to close.
        """
        read_fd, write_fd = make_pipe(size=PIPE_SIZE if large else None)
        self.child_end(write_fd)
        stream = FdReceiveStream(read_fd)
        if track:
            self._streams.append(stream)
        return stream, write_fd

    def writer(self, *, large: bool = False, track: bool = True) -> tuple[FdSendStream, int]:
        """A pipe whose write end cuprum keeps; returns (stream, child's read end)."""
        read_fd, write_fd = make_pipe(size=PIPE_SIZE if large else None)
        self.child_end(read_fd)
        stream = FdSendStream(write_fd)
        if track:
            self._streams.append(stream)
        return stream, read_fd

    def relay(self) -> tuple[FdReceiveStream, FdSendStream]:
        """A pipe between cuprum and its caller: (caller's read end, cuprum's write end).

        cuprum's end is tracked; the caller closes its own.
        """
        read_fd, write_fd = make_pipe(size=None)
        sink = FdSendStream(write_fd)
        self._streams.append(sink)
        return FdReceiveStream(read_fd), sink

    def sink_to(self, fd: int) -> FdSendStream | None:
        """A non-blocking stream that writes into the pipe ``fd``, or None.

        ``fd`` is the caller's (a pipe whose file status cuprum must not
        change), so the pipe is opened anew through ``/proc/self/fd``: that
        open file is cuprum's own, and non-blocking. None when ``fd`` is
        not a pipe, or on systems without ``/proc``.
        """
        if not stat.S_ISFIFO(os.fstat(fd).st_mode):
            return None
        try:
            # O_NONBLOCK: a pipe without a reader fails (ENXIO) instead of blocking.
            own = os.open(f"/proc/self/fd/{fd}", os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            return None
        sink = FdSendStream(own)
        self._streams.append(sink)
        return sink

    def close_child_ends(self) -> None:
        """Close the descriptors only children needed (they have their copies)."""
        ends, self._child_ends = self._child_ends, []
        for fd in ends:
            os.close(fd)

    def close_all(self) -> None:
        """Close everything still open (idempotent)."""
        self.close_child_ends()
        kept, self._kept = self._kept, []
        for fd in kept:
            os.close(fd)
        for stream in self._streams:
            stream.close()
        self._streams.clear()
