"""Reading a child's output: capture with a bound, echo, and line events."""

from __future__ import annotations

import codecs
import io
import sys
from collections.abc import Awaitable, Callable
from typing import BinaryIO, final

import anyio

from ._fdstream import FdReceiveStream

__all__ = ["Capture", "LineSplitter", "read_python"]

FIRST_READ = 1 << 16
READ_SIZE = 1 << 20
"""Reads start at `FIRST_READ` bytes and double while they come back full, up to this."""


@final
class Capture:
    """Bytes kept from one stream, bounded by ``max_output``.

    The bytes go into one `io.BytesIO` as they arrive, and `getvalue`
    returns its buffer itself: a large output is copied once, from the read
    into the buffer, with no list of chunks to join at the end.
    """

    __slots__ = ("_buffer", "kept", "limit", "total")

    def __init__(self, limit: int | None) -> None:
        self._buffer = io.BytesIO()
        self.limit = limit
        self.kept = 0
        self.total = 0

    def add(self, data: bytes | memoryview) -> None:
        """Keep ``data``, or the part of it that fits under the limit."""
        size = len(data)
        self.total += size
        if self.limit is None:
            self.kept += self._buffer.write(data)
            return
        room = self.limit - self.kept
        if room > 0:
            self.kept += self._buffer.write(data if size <= room else data[:room])

    def keep(self, piece: memoryview) -> None:
        """Keep a piece the Rust ``consume`` call read (it applied the limit)."""
        self.kept += self._buffer.write(piece)

    def count(self, total: int) -> None:
        """Count the ``total`` bytes the Rust ``consume`` call read, kept or not."""
        self.total += total

    @property
    def truncated(self) -> bool:
        """True when bytes were read and dropped."""
        return self.total > self.kept

    def getvalue(self) -> bytes:
        """Return the kept bytes."""
        return self._buffer.getvalue()


@final
class LineSplitter:
    """Decode a byte stream incrementally and cut it into lines.

    Splitting is done on decoded text with `str.split`, a chunk at a time,
    so the cost is per chunk, not per byte. ``\\r\\n`` counts as one line
    end; with ``split_cr``, a lone ``\\r`` ends a line too.
    """

    __slots__ = ("_decoder", "_pending", "_split_cr")

    def __init__(self, encoding: str, errors: str, *, split_cr: bool = False) -> None:
        self._decoder = codecs.getincrementaldecoder(encoding)(errors)
        self._pending = ""
        self._split_cr = split_cr

    def feed(self, data: bytes) -> list[str]:
        """Return the lines completed by ``data``."""
        text = self._decoder.decode(data)
        if self._split_cr:
            return self._split(self._pending + text, at_end=False)
        # Split the new text alone and complete its first line with what was
        # pending: no copy of the whole chunk per read.
        lines = text.split("\n")
        if self._pending:
            lines[0] = self._pending + lines[0]
        self._pending = lines.pop()
        if "\r" in text or (lines and lines[0].endswith("\r")):
            return [line[:-1] if line.endswith("\r") else line for line in lines]
        return lines

    def finish(self) -> list[str]:
        """Return the last line (without newline), if any, at end of stream."""
        text = self._pending + self._decoder.decode(b"", final=True)
        self._pending = ""
        return self._split(text, at_end=True) if text else []

    def _split(self, text: str, *, at_end: bool) -> list[str]:
        if self._split_cr:
            # A trailing \r may be the first half of \r\n: hold it back.
            hold = not at_end and text.endswith("\r")
            if hold:
                text = text[:-1]
            parts = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
            last = parts.pop()
            if hold:
                self._pending = last + "\r"
            elif at_end:
                if last:
                    parts.append(last)
            else:
                self._pending = last
            return parts
        parts = text.split("\n")
        last = parts.pop()
        if "\r" in text:
            lines = [line[:-1] if line.endswith("\r") else line for line in parts]
        else:
            lines = parts
        if at_end:
            if last:
                lines.append(last)
        else:
            self._pending = last
        return lines


def echo_target(name: str) -> Callable[[bytes], None]:
    """Return a writer that copies bytes to this process's stdout or stderr."""
    stream = sys.stdout if name == "stdout" else sys.stderr
    buffer: BinaryIO | None = getattr(stream, "buffer", None)
    if buffer is not None:

        def write_bytes(data: bytes) -> None:
            buffer.write(data)
            buffer.flush()

        return write_bytes

    decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def write_text(data: bytes) -> None:
        stream.write(decoder.decode(data))
        stream.flush()

    return write_text


async def read_python(
    stream: FdReceiveStream,
    capture: Capture | None,
    *,
    echo: Callable[[bytes], None] | None = None,
    lines: LineSplitter | None = None,
    on_lines: Callable[[list[str]], Awaitable[None]] | None = None,
    on_bytes: Callable[[int], None] | None = None,
) -> None:
    """Read ``stream`` to its end, capturing, echoing and emitting lines."""
    size = FIRST_READ
    while True:
        try:
            data = await stream.receive(size)
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            break
        if len(data) == size and size < READ_SIZE:
            size *= 2
        if on_bytes is not None:
            on_bytes(len(data))
        if capture is not None:
            capture.add(data)
        if echo is not None:
            echo(data)
        if lines is not None and on_lines is not None:
            found = lines.feed(data)
            if found:
                await on_lines(found)
    if lines is not None and on_lines is not None:
        found = lines.finish()
        if found:
            await on_lines(found)
