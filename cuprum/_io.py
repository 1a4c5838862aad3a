"""The I/O tasks of a run: stdin feeder, inter-stage pumps, output readers."""

from __future__ import annotations

import functools
import itertools
import os
import select
from collections.abc import AsyncIterable, Awaitable, Callable
from typing import IO, TYPE_CHECKING, final

import anyio
from anyio.abc import ByteReceiveStream

from ._backend import StreamBackend
from ._capture import Capture, LineSplitter, echo_target, read_python
from ._events import EventPhase
from ._fdstream import FdReceiveStream, FdSendStream
from ._plumbing import FdSet
from ._pump import CancelToken, pump, rust_consume

if TYPE_CHECKING:
    from ._execution import Run, Stage

__all__ = ["IoTask", "start_io"]


@final
class IoTask:
    """One I/O task, with a way to stop it from outside.

    `stop` cancels its scope and, for the Rust backend, triggers its cancel
    token so the worker thread returns. Its streams are closed as soon as it
    ends (so the peers see end of file or a broken pipe at once).
    """

    __slots__ = ("_fn", "_streams", "finished", "scope", "token")

    def __init__(
        self,
        fn: Callable[[], Awaitable[None]],
        streams: tuple[FdReceiveStream | FdSendStream, ...],
        token: CancelToken | None = None,
    ) -> None:
        self._fn = fn
        self._streams = streams
        self.token = token
        self.scope = anyio.CancelScope()
        self.finished = anyio.Event()

    async def run(self) -> None:
        """Run the task, then close its streams whatever happened."""
        try:
            with self.scope:
                await self._fn()
        finally:
            for stream in self._streams:
                stream.close()
            self.finished.set()

    def source_has_writers(self) -> bool:
        """Say whether some process still holds the write end of the task's source pipe."""
        for stream in self._streams:
            if isinstance(stream, FdReceiveStream):
                if stream.fileno < 0:
                    return False
                poller = select.poll()
                poller.register(stream.fileno, select.POLLIN)
                return not any(mask & select.POLLHUP for _, mask in poller.poll(0))
        return False

    def stop(self) -> None:
        """Ask the task to end now (idempotent)."""
        if self.token is not None:
            self.token.trigger()
        self.scope.cancel()


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


def _reader_task(run: Run, stage: Stage, stream: FdReceiveStream, name: str) -> IoTask:
    options = run.options
    capture = Capture(options.max_output) if options.capture else None
    if name == "stdout":
        stage.stdout = capture
    else:
        stage.stderr = capture
    listening = run.observers.listening
    if (
        run.backend is StreamBackend.RUST
        and capture is not None
        and not options.echo
        and not listening
    ):
        token = CancelToken()
        run.fds.track(token)
        return IoTask(lambda: rust_consume(stream, capture, token), (stream,), token)
    phase = EventPhase.STDOUT if name == "stdout" else EventPhase.STDERR
    lines = LineSplitter(options.encoding, options.errors) if listening else None

    async def on_line(line: str) -> None:
        await run.observers.emit(stage.event(phase, run.pipeline_id, line=line))

    echo = echo_target(name) if options.echo else None
    return IoTask(
        lambda: read_python(stream, capture, echo=echo, lines=lines, on_line=on_line),
        (stream,),
    )


def _pump_task(run: Run, upstream: Stage, source: FdReceiveStream, sink: FdSendStream) -> IoTask:
    token: CancelToken | None = None
    if run.backend is StreamBackend.RUST:
        token = CancelToken()
        run.fds.track(token)

    def count(size: int) -> None:
        upstream.bytes_out += size

    return IoTask(lambda: pump(source, sink, run.backend, token, count), (source, sink), token)


def _output_fd(fds: FdSet, target: os.PathLike[str] | IO[bytes], append: bool) -> int:
    if isinstance(target, os.PathLike):
        return fds.open_path(target, write=True, append=append)
    return fds.file_fd(target)


def start_io(run: Run) -> None:
    """Open every descriptor of the run and describe its I/O tasks."""
    options, fds, stages = run.options, run.fds, run.stages
    first, last = stages[0], stages[-1]
    stdin = options.stdin
    if options.pipe_stdin:
        run.user_stdin, first.fd_in = fds.writer(track=False)
    elif stdin is None:
        first.fd_in = fds.devnull(write=False)
    elif isinstance(stdin, (str, bytes, bytearray, memoryview, ByteReceiveStream, AsyncIterable)):
        feed_sink, first.fd_in = fds.writer()
        first.inbound = IoTask(
            functools.partial(_feed, feed_sink, stdin, options.encoding), (feed_sink,)
        )
    else:
        first.fd_in = fds.open_path(stdin, write=False)

    for upstream, downstream in itertools.pairwise(stages):
        source, upstream.fd_out = fds.reader(large=True)
        sink, downstream.fd_in = fds.writer(large=True)
        task = _pump_task(run, upstream, source, sink)
        upstream.io.append(task)
        downstream.inbound = task

    if options.pipe_stdout:
        run.user_stdout, last.fd_out = fds.reader(large=True, track=False)
    elif options.stdout is not None and options.stdout != "stdout":
        last.fd_out = _output_fd(fds, options.stdout, options.append)
    elif options.capture or options.echo:
        stream, last.fd_out = fds.reader(large=True)
        last.io.append(_reader_task(run, last, stream, "stdout"))
    else:
        last.fd_out = fds.devnull(write=True)

    shared_err: int | None = None
    for stage in stages:
        if options.stderr == "stdout" and stage is last:
            stage.fd_err = stage.fd_out
        elif options.pipe_stderr and stage is last and len(stages) == 1:
            run.user_stderr, stage.fd_err = fds.reader(track=False)
        elif options.stderr is not None and options.stderr != "stdout":
            if shared_err is None:
                shared_err = _output_fd(fds, options.stderr, options.append)
            stage.fd_err = shared_err
        elif options.capture or options.echo:
            stream, stage.fd_err = fds.reader()
            stage.io.append(_reader_task(run, stage, stream, "stderr"))
        else:
            stage.fd_err = fds.devnull(write=True)
