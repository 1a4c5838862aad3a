"""The I/O tasks of a run: stdin feeder, inter-stage pumps, output readers."""

from __future__ import annotations

import functools
import itertools
import os
from collections.abc import AsyncIterable, Awaitable, Callable
from typing import IO, TYPE_CHECKING, final

import anyio
from anyio.abc import ByteReceiveStream

from ._backend import StreamBackend
from ._capture import Capture, LineSplitter, echo_target, read_python
from ._events import EventPhase
from ._fdstream import FdReceiveStream, FdSendStream, has_writers
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
    ends (so the peers see end of file or a broken pipe at once), unless
    ``close=False`` leaves them to the run's `FdSet`.
    """

    __slots__ = ("_close", "_fn", "_streams", "finished", "scope", "token")

    def __init__(
        self,
        fn: Callable[[], Awaitable[None]],
        streams: tuple[FdReceiveStream | FdSendStream, ...],
        token: CancelToken | None = None,
        *,
        close: bool = True,
    ) -> None:
        self._fn = fn
        self._streams = streams
        self._close = close
        self.token = token
        self.scope = anyio.CancelScope()
        self.finished = anyio.Event()

    async def run(self) -> None:
        """Run the task, then close its streams whatever happened."""
        try:
            with self.scope:
                await self._fn()
        finally:
            if self._close:
                for stream in self._streams:
                    stream.close()
            self.finished.set()

    def source_has_writers(self) -> bool:
        """Say whether some process still holds the write end of the task's source pipe."""
        for stream in self._streams:
            if isinstance(stream, FdReceiveStream):
                return stream.fileno >= 0 and has_writers(stream.fileno)
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


def _remote_stderr(
    run: Run,
    stage: Stage,
    *,
    capture: bool = False,
    sink: FdSendStream | None = None,
    fd: int | None = None,
) -> int:
    """Read a remote stage's stderr in Python, without the wrapper's markers.

    The markers carry the remote exit status and process group, so this
    reader runs whatever the options (never the Rust ``consume``). The
    filtered bytes go to the capture, echo and line events (``capture``),
    to the caller's pipe (``sink``), to a redirect target (``fd``), or
    nowhere.
    """
    remote = stage.remote
    assert remote is not None
    stream, child_end = run.fds.reader()
    options = run.options
    deliver: Callable[[bytes], Awaitable[None]] | None = None
    finish: Callable[[], Awaitable[None]] | None = None
    if capture:
        stage.stderr = Capture(options.max_output) if options.capture else None
        echo = echo_target("stderr") if options.echo else None
        lines = LineSplitter(options.encoding, options.errors) if run.observers.listening else None

        async def on_lines(found: list[str]) -> None:
            for line in found:
                await run.observers.emit(stage.event(EventPhase.STDERR, run.pipeline_id, line=line))

        async def deliver_captured(data: bytes) -> None:
            if stage.stderr is not None:
                stage.stderr.add(data)
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

    # Set now, not when the task starts: until the reader is done, nobody
    # else may read the pipe (two readers of one descriptor is an error on
    # trio). A reader that never started leaves it set: waits then time out.
    remote.stream = stream
    remote.reading = True

    async def read() -> None:
        try:
            while True:
                try:
                    data = await stream.receive(1 << 16)
                except (anyio.EndOfStream, anyio.ClosedResourceError):
                    break
                out = remote.feed(data)
                if out and deliver is not None:
                    await deliver(out)
            out = remote.end()
            if out and deliver is not None:
                await deliver(out)
            if finish is not None:
                await finish()
        finally:
            remote.reading = False
            if sink is not None:
                sink.close()  # the caller sees the end of stderr

    # The pipe stays open (the run's FdSet closes it): the kill protocol may
    # still read the markers after the task stopped.
    stage.io.append(IoTask(read, (stream,), close=False))
    return child_end


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
    elif stdin is None and first.remote is not None:
        # The lifeline: the channel's stdin stays open, unwritten, until the
        # client exits; if it closes early, the remote group is ended.
        _, first.fd_in = fds.writer()
        first.remote.lifeline = True
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
        if upstream.remote is not None:
            upstream.remote.stdout_source = source
        upstream.io.append(task)
        downstream.inbound = task

    if options.pipe_stdout:
        run.user_stdout, last.fd_out = fds.reader(large=True, track=False)
        if last.remote is not None:
            last.remote.stdout_source = run.user_stdout
    elif options.stdout is not None and options.stdout != "stdout":
        last.fd_out = _output_fd(fds, options.stdout, options.append)
    elif options.capture or options.echo:
        stream, last.fd_out = fds.reader(large=True)
        last.io.append(_reader_task(run, last, stream, "stdout"))
        if last.remote is not None:
            last.remote.stdout_source = stream
    else:
        last.fd_out = fds.devnull(write=True)

    shared_err: int | None = None
    for stage in stages:
        remote = stage.remote
        if options.stderr == "stdout" and stage is last:
            if remote is None:
                stage.fd_err = stage.fd_out
            else:
                remote.merge_stderr = True  # merged in order on the remote side
                stage.fd_err = _remote_stderr(run, stage)
        elif options.pipe_stderr and stage is last and len(stages) == 1:
            if remote is None:
                run.user_stderr, stage.fd_err = fds.reader(track=False)
            else:
                run.user_stderr, sink = fds.relay()
                stage.fd_err = _remote_stderr(run, stage, sink=sink)
        elif options.stderr is not None and options.stderr != "stdout":
            if shared_err is None:
                shared_err = _output_fd(fds, options.stderr, options.append)
            if remote is None:
                stage.fd_err = shared_err
            else:
                # A dup shares the file offset with the local stages' writes.
                stage.fd_err = _remote_stderr(run, stage, fd=fds.keep(os.dup(shared_err)))
        elif options.capture or options.echo:
            if remote is None:
                stream, stage.fd_err = fds.reader()
                stage.io.append(_reader_task(run, stage, stream, "stderr"))
            else:
                stage.fd_err = _remote_stderr(run, stage, capture=True)
        elif remote is not None:
            stage.fd_err = _remote_stderr(run, stage)
        else:
            stage.fd_err = fds.devnull(write=True)
