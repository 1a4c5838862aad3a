"""The task-free machinery behind `SafeCmd.lines` and `Pipeline.lines`.

It drives the same stages, policy (`Stage.end`) and cleanup
(`terminate_all`) as `run()`, but holds no task across a ``yield``: the
stages are joined by kernel pipes, stderr goes to anonymous temporary
files, and each wait for output is a short task group that also feeds
stdin (`StdinFeeder`) and watches the children exit; it is over before
lines are handed to the caller.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import AsyncIterable, Collection
from typing import IO, final

import anyio
import anyio.lowlevel
from anyio.abc import ByteReceiveStream, TaskGroup

from ._capture import FIRST_READ, READ_SIZE, Capture, LineSplitter
from ._errors import unwrap
from ._events import EventPhase
from ._execution import Run, end_leftovers, terminate_all, terminate_others
from ._fdstream import FdReceiveStream, FdSendStream, buffered, has_writers, make_pipe
from ._feeder import StdinFeeder
from ._policy import StageEnd
from ._results import CommandResult, PipelineResult
from ._stage import Stage
from ._transport import StageIo, admit, release
from ._wiring import StageWiring

__all__ = ["LineLoop"]

_EOF = b""  # what `_receive` returns at the end of the output
_YIELD_AFTER = 0.001  # seconds of reads that found output waiting, between two full checkpoints


@final
class LineLoop:
    """Spawn stages joined by kernel pipes and read the last one's lines."""

    def __init__(self, run: Run, encoding: str, errors: str, *, split_cr: bool) -> None:
        self.run = run
        self.splitter = LineSplitter(encoding, errors, split_cr=split_cr)
        self.encoding = encoding
        self.errors = errors
        self.stdout: FdReceiveStream | None = None
        self.feeder: StdinFeeder | None = None
        self.err_files: list[IO[bytes]] = []
        self.files: list[IO[bytes]] = []  # a spooled stdin
        self.fds: list[int] = []
        self.lifelines: list[int] = []
        self.on_lifeline = False
        self.exited_at: float | None = None
        self.quiet_since: float | None = None  # set once the groups were ended
        self.budget: int | None = None  # bytes still to read then, if limited
        self.read_size = FIRST_READ
        self._yielded = time.monotonic()  # the last full checkpoint of a quick read

    async def _stdin_fd(self, stdin: object) -> int:
        match stdin:
            case None if self.run.stages[0].launch.lifeline:
                # The lifeline: a pipe kept open, unwritten, until the end.
                read_fd, write_fd = make_pipe(size=None)
                self.lifelines.append(write_fd)
                self.on_lifeline = True
                return self._own(read_fd)
            case None:
                return self._own(os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC))
            case os.PathLike():
                return self._own(os.open(stdin, os.O_RDONLY | os.O_CLOEXEC))  # pyright: ignore[reportUnknownArgumentType]
            case AsyncIterable() if not isinstance(stdin, ByteReceiveStream):
                # An async generator cannot be paused: cancelled midway, it
                # ends. So it is read to its end first, into a file (a byte
                # stream is fed as the command reads: `StdinFeeder`).
                return await self._spool(stdin)  # pyright: ignore[reportUnknownArgumentType]
            case _:
                read_fd, write_fd = make_pipe(size=None)
                self.feeder = StdinFeeder(FdSendStream(write_fd), stdin, self.encoding)
                return self._own(read_fd)

    def _own(self, fd: int) -> int:
        self.fds.append(fd)
        return fd

    async def _spool(self, source: AsyncIterable[object]) -> int:
        file = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
        self.files.append(file)
        iterator = aiter(source)
        try:
            async for chunk in iterator:
                if not isinstance(chunk, (bytes, bytearray)):
                    raise TypeError(f"stdin iterable yielded {type(chunk).__name__}, not bytes")
                file.write(chunk)
        finally:
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                with anyio.CancelScope(shield=True):
                    await aclose()
        file.flush()
        file.seek(0)
        return file.fileno()

    async def start(self, stdin: object, deadline: float) -> None:
        """Open the descriptors and spawn every stage."""
        run = self.run
        with anyio.fail_after(max(0.0, deadline - time.monotonic())):
            await admit(run.admissions)
            fd_in = await self._stdin_fd(stdin)
        for stage in run.stages:
            err = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
            self.err_files.append(err)
            read_fd, write_fd = make_pipe()
            self._own(write_fd)
            if stage.last:
                self.stdout = FdReceiveStream(read_fd)
            else:
                self._own(read_fd)
            io = StageIo(
                stdin=fd_in, stdout=write_fd, stderr=err.fileno(), stderr_file=err,
                lifeline=self.on_lifeline and stage.index == 0,
            )  # fmt: skip
            stage.start(StageWiring(io=io))
            fd_in = read_fd
        for fd in self.fds:
            os.close(fd)
        self.fds.clear()
        for stage in run.stages:
            stage.announced = True
            await run.observers.emit(stage.event(EventPhase.START, run.pipeline_id))

    def _all_exited(self) -> bool:
        return all(s.child is not None and s.child.poll() is not None for s in self.run.stages)

    async def next_batch(self, deadline: float) -> list[str] | None:
        """Return the next lines (maybe none yet), or None at end of output.

        Waits for output, and meanwhile feeds stdin and watches the
        children exit. Once every stage has exited, a background
        descendant that holds the pipe gets ``cancel_grace``; then the
        groups are ended and what is left is read (`_limit_what_is_left`).
        """
        assert self.stdout is not None
        grace = self.run.grace
        while True:
            now = time.monotonic()
            if now >= deadline:
                raise TimeoutError
            if self.exited_at is None and self._all_exited():
                self.exited_at = now
            wake = deadline
            if self.exited_at is not None:
                if now >= self.exited_at + grace:
                    if self.quiet_since is None:
                        await self._end_groups()
                        self._limit_what_is_left()
                        self.quiet_since = time.monotonic()
                    elif self.budget is not None:
                        # A writer is left: read while output waits for the
                        # caller, stop once the pipe stayed empty for the grace.
                        if buffered(self.stdout.fileno) > 0:
                            self.quiet_since = now
                        elif now - self.quiet_since >= grace:
                            return None
                    if self.budget is not None:
                        wake = min(wake, self.quiet_since + grace)
                else:
                    wake = min(wake, self.exited_at + grace)
            if self.budget is not None and self.budget <= 0:
                return None  # a writer outside the groups that keeps writing
            data = await self._receive(wake)
            if data is None:
                continue  # woke up to look again: a deadline, or every stage exited
            if data is _EOF:
                return None
            if self.budget is not None:
                self.budget -= len(data)
            lines = self.splitter.feed(data)
            await self._emit(lines)
            return lines

    async def _receive(self, wake: float) -> bytes | None:
        """Read stdout until ``wake``, feeding stdin and watching for the exits.

        Output that is already waiting is taken at once, without a task
        group, when no stdin is left to feed (the exits are polled by
        `next_batch`); reads grow while they come back full.
        """
        assert self.stdout is not None
        size = self.read_size
        if self.feeder is None or self.feeder.done:
            try:
                data = self.stdout.receive_nowait(size)
            except anyio.ClosedResourceError:
                data = _EOF
            if data is not None:
                now = time.monotonic()
                if now - self._yielded >= _YIELD_AFTER:
                    # Let the other tasks run: however fast the producer, the
                    # loop's other tasks wait no more than about a read.
                    self._yielded = now
                    await anyio.lowlevel.checkpoint()
                else:
                    await anyio.lowlevel.checkpoint_if_cancelled()
                if len(data) == size and size < READ_SIZE:
                    self.read_size = size * 2
                return data or _EOF
        data = None
        try:
            with anyio.move_on_after(max(0.0, wake - time.monotonic())):
                async with anyio.create_task_group() as tg:
                    if self.exited_at is None:
                        tg.start_soon(self._wait_exits, tg.cancel_scope)
                    if self.feeder is not None and not self.feeder.done:
                        tg.start_soon(self.feeder.run)
                    try:
                        data = await self.stdout.receive(size)
                    except (anyio.EndOfStream, anyio.ClosedResourceError):
                        data = _EOF
                    tg.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            raise unwrap(group) from None
        return data

    async def _wait_exits(self, scope: anyio.CancelScope) -> None:
        for stage in self.run.stages:
            assert stage.child is not None
            await stage.child.exited()
        scope.cancel()

    def _limit_what_is_left(self) -> None:
        """After the groups were ended: decide how much more output to read.

        With no writer left, the rest is read to its end, however slow the
        caller. A writer still there escaped its process group (or, for a
        remote last stage, it is the master still delivering): then at
        most what is already in the pipe is read, plus, for a remote
        stage, what can still be in flight in the connection.
        """
        assert self.stdout is not None
        fd = self.stdout.fileno
        if fd < 0 or not has_writers(fd):
            return
        self.budget = buffered(fd) + self.run.stages[-1].launch.in_transit

    async def _emit(self, lines: list[str]) -> None:
        run = self.run
        if run.observers.listening and lines:
            stamp = run.stages[-1].stamp(EventPhase.STDOUT, run.pipeline_id)
            await run.observers.emit_lines(stamp, lines)

    async def last_lines(self) -> list[str]:
        """Return the last line when the output did not end with a newline."""
        last = self.splitter.finish()
        await self._emit(last)
        return last

    async def wait(self, deadline: float) -> None:
        """Wait for the children after their output ended.

        The failure policy of `run()` applies: a stage that fails on its
        own gets the others terminated, so `sleep 1000 | false` ends.
        """
        try:
            with anyio.fail_after(max(0.0, deadline - time.monotonic())):
                async with anyio.create_task_group() as tg:
                    if self.feeder is not None and not self.feeder.done:
                        tg.start_soon(self.feeder.run)  # a stage may still read
                    async with anyio.create_task_group() as waiters:
                        for stage in self.run.stages:
                            waiters.start_soon(self._wait_stage, stage, waiters)
                    tg.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            raise unwrap(group) from None
        for stage in self.run.stages:
            await stage.launch.settle(quiet=False)
            await end_leftovers(stage)

    async def _wait_stage(self, stage: Stage, tg: TaskGroup) -> None:
        assert stage.child is not None
        await stage.child.wait()
        if stage.end() is StageEnd.FAILED:
            terminate_others(self.run.stages, stage, tg)

    async def _end_groups(self) -> None:
        for stage in self.run.stages:
            # Only the command's group: a transport may still be delivering
            # output this loop has not read yet.
            if stage.child is not None:
                await stage.child.end_command(stage.ctx.cancel_grace)

    async def stop(self) -> None:
        """Close stdout, terminate what still runs and reap it (call shielded)."""
        if self.stdout is not None:
            self.stdout.close()
        if self.feeder is not None:
            self.feeder.close()
        await terminate_all(self.run.stages)

    def close(self) -> None:
        """Close every descriptor and temporary file."""
        for fd in (*self.fds, *self.lifelines):
            os.close(fd)
        self.fds.clear()
        self.lifelines.clear()
        release(self.run.admissions)
        for file in (*self.files, *self.err_files):
            file.close()
        self.files.clear()
        self.err_files.clear()

    def result(
        self, *, single: bool, timed_out: Collection[int] = ()
    ) -> CommandResult | PipelineResult:
        """Build the result (stdout is not kept: it was streamed)."""
        run = self.run
        errs: list[Capture | None] = [None] * len(run.stages)
        for stage, err in zip(run.stages, self.err_files, strict=False):
            errs[stage.index] = capture = Capture(None)
            capture.add(stage.launch.stderr_of(err))
        for stage in run.stages:
            stage.result = stage.build_result(
                self.encoding, self.errors, stderr=errs[stage.index],
                downstream_done=run.downstream_done(stage), timed_out=stage.index in timed_out,
            )  # fmt: skip
        outcome = run.outcome()
        return outcome.stages[0] if single else outcome
