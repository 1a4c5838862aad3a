"""A stdin writer that can be stopped and resumed without losing a byte.

``lines()`` runs no task across a ``yield``, so it feeds stdin only while
it waits for output: each wait runs `StdinFeeder.run` beside the read and
cancels it when lines are ready. Progress lives in the feeder (the bytes
not yet written, the source's position), never in a cancelled frame, so
the next wait picks up where the last one stopped. A stdin that never
ends (an endless byte stream) is no problem: the child starts at once and
reads what comes.
"""

from __future__ import annotations

import os
from typing import final

import anyio
from anyio.abc import ByteReceiveStream

from ._fdstream import FdSendStream

__all__ = ["StdinFeeder"]


@final
class StdinFeeder:
    """Feed bytes, text or a byte stream into a pipe.

    Cancelling `run` loses nothing: a write waits for room without having
    taken bytes off `_pending`, and a byte stream's ``receive`` gives up
    without consuming data.
    """

    __slots__ = ("_pending", "_sink", "_source", "done")

    def __init__(self, sink: FdSendStream, source: object, encoding: str) -> None:
        self._sink = sink
        self._pending = memoryview(b"")
        self._source: ByteReceiveStream | None = None
        self.done = False
        match source:
            case str():
                self._pending = memoryview(source.encode(encoding))
            case bytes() | bytearray():
                self._pending = memoryview(bytes(source))
            case memoryview():
                self._pending = memoryview(source.tobytes())
            case ByteReceiveStream():
                self._source = source
            case _:  # pragma: no cover - RunOptions checked the type
                raise TypeError(f"unsupported stdin {type(source).__name__}")

    async def run(self) -> None:
        """Feed until the source ends or the child stops reading; then close the pipe."""
        try:
            while not self.done:
                if self._pending:
                    await self._write()
                elif not await self._next():
                    self._finish()
        except anyio.BrokenResourceError:
            self._finish()  # the child stopped reading: not an error

    async def _write(self) -> None:
        fd = self._sink.fileno
        if fd < 0:
            raise anyio.BrokenResourceError
        try:
            written = _write(fd, self._pending)
        except BlockingIOError:
            await self._sink.wait_writable()
            return
        self._pending = self._pending[written:]

    async def _next(self) -> bool:
        """Take the next chunk from the source; False at its end."""
        if self._source is None:
            return False
        try:
            chunk = await self._source.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            return False
        self._pending = memoryview(chunk)
        return True

    def _finish(self) -> None:
        self.done = True
        self._sink.close()  # the child sees end of file

    def close(self) -> None:
        """Close the pipe (idempotent)."""
        self.done = True
        self._sink.close()


def _write(fd: int, data: memoryview) -> int:
    try:
        return os.write(fd, data)
    except (BrokenPipeError, ConnectionResetError) as exc:
        raise anyio.BrokenResourceError from exc
