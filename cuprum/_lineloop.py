"""The task-free machinery behind `SafeCmd.lines` and `Pipeline.lines`."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import AsyncIterable
from typing import IO, final

import anyio
from anyio.abc import ByteReceiveStream, TaskGroup

from ._capture import Capture, LineSplitter
from ._events import EventPhase
from ._execution import Run, Stage
from ._fdstream import FdReceiveStream, buffered, has_writers, make_pipe
from ._remote_child import RemoteChild
from ._remote_stage import acquire_sessions, release_sessions
from ._results import CommandResult, PipelineResult

__all__ = ["LineLoop"]

# While the children run, a read wakes up this often to notice that they
# have exited although a background descendant still holds the pipe.
_POLL = 0.1
# What can still be on its way from a remote stage after its group ended:
# sshd's buffer and channel window (2 MiB each), the socket buffers, the
# master's buffer. Generous, since losing output is worse than a late stop.
REMOTE_IN_FLIGHT = 16 << 20


@final
class LineLoop:
    """Spawn stages joined by kernel pipes and read the last one's lines."""

    def __init__(self, run: Run, encoding: str, errors: str, *, split_cr: bool) -> None:
        self.run = run
        self.splitter = LineSplitter(encoding, errors, split_cr=split_cr)
        self.encoding = encoding
        self.errors = errors
        self.stdout: FdReceiveStream | None = None
        self.files: list[IO[bytes]] = []
        self.err_files: list[IO[bytes]] = []
        self.fds: list[int] = []
        self.lifelines: list[int] = []
        self.exited_at: float | None = None
        self.quiet_since: float | None = None  # set once the groups were ended
        self.budget: int | None = None  # bytes still to read then, if limited

    async def _stdin_fd(self, stdin: object) -> int:
        first = self.run.stages[0].remote
        match stdin:
            case None if first is not None:
                # The remote lifeline: a pipe kept open, unwritten, until the end.
                read_fd, write_fd = make_pipe(size=None)
                self.lifelines.append(write_fd)
                first.lifeline = True
                return self._own(read_fd)
            case None:
                return self._own(os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC))
            case str() | bytes():
                data = stdin.encode(self.encoding) if isinstance(stdin, str) else stdin
                return self._spool([data])
            case ByteReceiveStream() | AsyncIterable():
                chunks = [bytes(chunk) async for chunk in stdin]  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
                return self._spool(chunks)
            case _:
                return self._own(os.open(stdin, os.O_RDONLY | os.O_CLOEXEC))  # pyright: ignore[reportArgumentType, reportCallIssue]

    def _own(self, fd: int) -> int:
        self.fds.append(fd)
        return fd

    def _spool(self, chunks: list[bytes]) -> int:
        file = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
        self.files.append(file)
        for chunk in chunks:
            file.write(chunk)
        file.flush()
        file.seek(0)
        return file.fileno()

    async def start(self, stdin: object, deadline: float) -> None:
        """Open the descriptors and spawn every stage."""
        run = self.run
        with anyio.fail_after(max(0.0, deadline - time.monotonic())):
            await acquire_sessions(run.remotes)
            fd_in = await self._stdin_fd(stdin)
        for index, stage in enumerate(run.stages):
            err = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
            self.err_files.append(err)
            if stage.remote is not None:
                stage.remote.file = err
            read_fd, write_fd = make_pipe()
            self._own(write_fd)
            if index == len(run.stages) - 1:
                self.stdout = FdReceiveStream(read_fd)
            else:
                self._own(read_fd)
            stage.start(stdin=fd_in, stdout=write_fd, stderr=err.fileno())
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
        """Return the next lines (maybe none yet), or None at end of output."""
        assert self.stdout is not None
        while True:
            now = time.monotonic()
            if now >= deadline:
                raise TimeoutError
            if self.exited_at is None and self._all_exited():
                self.exited_at = now
            if self.exited_at is not None and now - self.exited_at > self.run.grace:
                if self.quiet_since is None:
                    await self._end_groups()
                    self._limit_what_is_left()
                    self.quiet_since = time.monotonic()
                elif self.budget is not None:
                    # A writer is left: read while output waits for the
                    # caller, stop once the pipe stayed empty for the grace.
                    if buffered(self.stdout.fileno) > 0:
                        self.quiet_since = now
                    elif now - self.quiet_since > self.run.grace:
                        return None
            if self.budget is not None and self.budget <= 0:
                return None  # a writer outside the groups that keeps writing
            with anyio.move_on_after(min(_POLL, deadline - now)):
                try:
                    data = await self.stdout.receive()
                except (anyio.EndOfStream, anyio.ClosedResourceError):
                    return None
                if self.budget is not None:
                    self.budget -= len(data)
                lines = self.splitter.feed(data)
                await self._emit(lines)
                return lines

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
        in_flight = REMOTE_IN_FLIGHT if self.run.stages[-1].remote is not None else 0
        self.budget = buffered(fd) + in_flight

    async def _emit(self, lines: list[str]) -> None:
        run = self.run
        if run.observers.listening:
            stage = run.stages[-1]
            for line in lines:
                await run.observers.emit(stage.event(EventPhase.STDOUT, run.pipeline_id, line=line))

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
        with anyio.fail_after(max(0.0, deadline - time.monotonic())):
            async with anyio.create_task_group() as tg:
                for stage in self.run.stages:
                    tg.start_soon(self._wait_stage, stage, tg)
        for stage in self.run.stages:
            if stage.remote is not None:
                await stage.remote.settle(quiet=False)

    async def _wait_stage(self, stage: Stage, tg: TaskGroup) -> None:
        assert stage.child is not None
        await stage.child.wait()
        if stage.failed_on_its_own(stage.index == len(self.run.stages) - 1):
            for other in self.run.stages:
                if other.child is not None and other.child.returncode is None:
                    tg.start_soon(other.child.terminate, other.ctx.cancel_grace)

    async def _end_groups(self) -> None:
        for stage in self.run.stages:
            child = stage.child
            if isinstance(child, RemoteChild):
                # Only the remote group: the local client may still be
                # delivering output this loop has not read yet.
                await child.end_remote(stage.ctx.cancel_grace)
            elif child is not None:
                await child.end_group(stage.ctx.cancel_grace)

    async def stop(self) -> None:
        """Close stdout, terminate what still runs and reap it (call shielded)."""
        if self.stdout is not None:
            self.stdout.close()
        async with anyio.create_task_group() as tg:
            for stage in self.run.stages:
                if stage.child is not None and stage.child.returncode is None:
                    tg.start_soon(stage.child.terminate, stage.ctx.cancel_grace)
        for stage in self.run.stages:
            if stage.child is not None:
                stage.child.close()

    def close(self) -> None:
        """Close every descriptor and temporary file."""
        for fd in (*self.fds, *self.lifelines):
            os.close(fd)
        self.fds.clear()
        self.lifelines.clear()
        release_sessions(self.run.remotes)
        for file in (*self.files, *self.err_files):
            file.close()
        self.files.clear()
        self.err_files.clear()

    def result(self, *, single: bool) -> CommandResult | PipelineResult:
        """Build the result (stdout is not kept: it was streamed)."""
        run = self.run
        for stage, err in zip(run.stages, self.err_files, strict=False):
            stage.stderr = Capture(None)
            if stage.remote is not None:
                stage.remote.refresh()
                stage.stderr.add(bytes(stage.remote.file_out) + stage.remote.end())
                continue
            err.seek(0)
            stage.stderr.add(err.read())
        for stage in run.stages:
            last = stage.index == len(run.stages) - 1
            stage.result = stage.build_result(
                self.encoding, self.errors, last=last, downstream_done=run.downstream_done(stage)
            )
        outcome = run.outcome()
        return outcome.stages[0] if single else outcome
