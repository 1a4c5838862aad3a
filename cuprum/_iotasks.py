"""The I/O tasks of a run: stdin feeder, inter-stage pumps, output readers."""

from __future__ import annotations

import functools
import os
from collections.abc import AsyncIterable, Awaitable, Callable
from typing import TYPE_CHECKING, final

import anyio
from anyio.abc import ByteReceiveStream

from ._capture import Capture, LineSplitter, echo_target, read_python
from ._events import EventPhase
from ._fdstream import FdReceiveStream, FdSendStream, has_writers
from ._pump import PumpEnd
from ._transport import StderrSink

if TYPE_CHECKING:
    from ._execution import Run
    from ._stage import Stage

__all__ = ["IoTask", "feeder", "filtered_stderr", "pump_task", "reader_task"]


@final
class IoTask:
    """One I/O task, with a way to stop it from outside.

    `stop` cancels its scope and calls its transfer's stop (the Rust
    backend's cancel token), so a worker thread returns. Its streams are closed as soon as it
    ends (so the peers see end of file or a broken pipe at once), unless
    ``close=False`` leaves them to the run's `FdSet`.
    """

    __slots__ = ("_close", "_finished", "_fn", "_scope", "_stop", "_stopped", "_streams", "done")

    def __init__(
        self,
        fn: Callable[[], Awaitable[object]],
        streams: tuple[FdReceiveStream | FdSendStream, ...],
        stop: Callable[[], None] | None = None,
        *,
        close: bool = True,
    ) -> None:
        self._fn = fn
        self._streams = streams
        self._close = close
        self._stop = stop
        # The scope and the event are made when needed: most runs are
        # short, and these are the engine's most numerous objects.
        self._scope: anyio.CancelScope | None = None
        self._finished: anyio.Event | None = None
        self._stopped = False
        self.done = False  # the task ran and ended

    async def run(self) -> None:
        """Run the task, then close its streams whatever happened."""
        try:
            with anyio.CancelScope() as scope:
                self._scope = scope
                if self._stopped:
                    scope.cancel()
                await self._fn()
        finally:
            if self._close:
                for stream in self._streams:
                    stream.close()
            self.done = True
            if self._finished is not None:
                self._finished.set()

    async def wait(self) -> None:
        """Wait until the task has ended."""
        if self.done:
            return
        if self._finished is None:
            self._finished = anyio.Event()
        await self._finished.wait()

    def source_has_writers(self) -> bool:
        """Say whether some process still holds the write end of the task's source pipe."""
        for stream in self._streams:
            if isinstance(stream, FdReceiveStream):
                return stream.fileno >= 0 and has_writers(stream.fileno)
        return False

    def stop(self) -> None:
        """Ask the task to end now (idempotent)."""
        if self._stop is not None:
            self._stop()
        self._stopped = True
        if self._scope is not None:
            self._scope.cancel()


async def _feed(sink: FdSendStream, source: object, encoding: str) -> None:
    try:
        match source:
            case str():
                await sink.send(source.encode(encoding))
            case bytes() | bytearray():
                await sink.send(bytes(source))
            case memoryview():
                await sink.send(source.tobytes())
            case ByteReceiveStream():
                async for chunk in source:
                    await sink.send(chunk)
            case AsyncIterable():
                await _feed_iterable(sink, source)  # pyright: ignore[reportUnknownArgumentType]
            case _:  # pragma: no cover - RunOptions checked the type
                raise TypeError(f"unsupported stdin {type(source).__name__}")
    except anyio.BrokenResourceError:
        pass  # the child stopped reading: not an error


async def _feed_iterable(sink: FdSendStream, source: AsyncIterable[object]) -> None:
    iterator = aiter(source)
    try:
        async for chunk in iterator:
            if not isinstance(chunk, (bytes, bytearray)):
                raise TypeError(f"stdin iterable yielded {type(chunk).__name__}, not bytes")
            await sink.send(bytes(chunk))
    finally:
        # Finalise an async generator here, in this task, rather than
        # leaving it to the garbage collector when the child stops reading.
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            with anyio.CancelScope(shield=True):
                await aclose()


def reader_task(
    run: Run, stage: Stage, stream: FdReceiveStream, name: str
) -> tuple[IoTask, Capture | None]:
    """Read one output of ``stage`` for capture, echo and line events."""
    options = run.options
    capture = Capture(options.max_output) if options.capture else None
    listening = run.observers.listening
    if capture is not None and not options.echo and not listening:
        bulk = run.pumper.consume(stream, capture)
        if bulk is not None:
            return IoTask(bulk.run, (stream,), bulk.stop), capture
    phase = EventPhase.STDOUT if name == "stdout" else EventPhase.STDERR
    lines = LineSplitter(options.encoding, options.errors) if listening else None

    async def on_lines(found: list[str]) -> None:
        await run.observers.emit_lines(stage.stamp(phase, run.pipeline_id), found)

    echo = echo_target(name) if options.echo else None
    task = IoTask(
        lambda: read_python(stream, capture, echo=echo, lines=lines, on_lines=on_lines),
        (stream,),
    )
    return task, capture


def filtered_stderr(
    run: Run,
    stage: Stage,
    stream: FdReceiveStream,
    *,
    capture: bool = False,
    sink: FdSendStream | None = None,
    fd: int | None = None,
) -> tuple[IoTask, Capture | None]:
    """Read a stage's stderr through its transport's filter (`Launch.read_stderr`).

    The filter runs whatever the options (never the Rust ``consume``). The
    filtered bytes go to the capture, echo and line events (``capture``),
    to the caller's pipe (``sink``), to a redirect target (``fd``), or
    nowhere.
    """
    options = run.options
    kept: Capture | None = None
    deliver: StderrSink | None = None
    finish: Callable[[], Awaitable[None]] | None = None
    if capture:
        kept = Capture(options.max_output) if options.capture else None
        echo = echo_target("stderr") if options.echo else None
        lines = LineSplitter(options.encoding, options.errors) if run.observers.listening else None

        async def on_lines(found: list[str]) -> None:
            if found:
                stamp = stage.stamp(EventPhase.STDERR, run.pipeline_id)
                await run.observers.emit_lines(stamp, found)

        async def deliver_captured(data: bytes) -> None:
            if kept is not None:
                kept.add(data)
            if echo is not None:
                echo(data)
            if lines is not None:
                await on_lines(lines.feed(data))

        async def finish_lines() -> None:
            if lines is not None:
                await on_lines(lines.finish())

        deliver, finish = deliver_captured, finish_lines
    elif sink is not None:
        deliver = functools.partial(_send_or_drop, sink)
    elif fd is not None:
        # A pipe of the caller's is written without blocking (a full one
        # must not stall the event loop, and a cancelled run must not wait
        # for its reader); files and terminals are written directly. (A
        # blocking socket whose reader stalls would stall the loop: rare.)
        pipe_sink = run.fds.sink_to(fd)
        if pipe_sink is not None:
            deliver = functools.partial(_send_or_drop, pipe_sink)
        else:
            deliver = functools.partial(_write_now, fd)
    launch = stage.launch

    async def read() -> None:
        try:
            await launch.read_stderr(stream, deliver)
            if finish is not None:
                await finish()
        finally:
            if sink is not None:
                sink.close()  # the caller sees the end of stderr

    # The pipe stays open (the run's FdSet closes it): the transport may
    # still read it after the task stopped (the kill protocol's markers).
    return IoTask(read, (stream,), close=False), kept


async def _write_now(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view) :]
        except BlockingIOError:  # the caller's descriptor is non-blocking
            await anyio.wait_writable(fd)


async def _send_or_drop(sink: FdSendStream, data: bytes) -> None:
    """Send to a pipe whose reader may leave; once it left, drop the rest."""
    if sink.fileno < 0:
        return
    try:
        await sink.send(data)
    except (anyio.BrokenResourceError, anyio.ClosedResourceError):
        sink.close()  # the reader went away: the rest has nowhere to go


def pump_task(run: Run, upstream: Stage, source: FdReceiveStream, sink: FdSendStream) -> IoTask:
    """Move ``upstream``'s stdout into the next stage's stdin."""

    def count(size: int) -> None:
        upstream.bytes_out += size

    transfer = run.pumper.pump(source, sink, count)

    async def move() -> None:
        if await transfer.run() is PumpEnd.WRITER_GONE:
            upstream.reader_left = True  # a fact for the failure policy

    return IoTask(move, (source, sink), transfer.stop)


def feeder(sink: FdSendStream, source: object, encoding: str) -> IoTask:
    """Feed ``source`` (bytes, text, a byte stream or an async iterable) to a stdin."""
    return IoTask(functools.partial(_feed, sink, source, encoding), (sink,))
