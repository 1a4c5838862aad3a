"""Interactive processes (`open`) and line streaming (`lines`)."""

from __future__ import annotations

import math
import signal
import time
from collections.abc import AsyncIterator, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, final

import anyio
from anyio.abc import ByteReceiveStream, ByteSendStream, TaskGroup, TaskStatus

from ._capture import LineSplitter
from ._errors import CommandFailed, TimeoutExpired, unwrap
from ._events import EventPhase
from ._execution import Run, end_leftovers, prepare
from ._lineloop import LineLoop
from ._options import RunOptions

if TYPE_CHECKING:
    from ._commands import SafeCmd
    from ._context import ExecutionContext
    from ._results import CommandResult, PipelineResult

__all__ = ["Process", "iterate_lines"]


@final
class Process:
    """A running command (or pipeline) to talk to: ``async with cmd.open() as proc``.

    Attributes
    ----------
    stdin : ByteSendStream | None
        The child's stdin (the first stage's, for pipelines).
    stdout : ByteReceiveStream | None
        The child's stdout (the last stage's).
    stderr : ByteReceiveStream | None
        The child's stderr (single commands; a pipeline captures each
        stage's stderr in `result`).

    Leaving the block closes stdin and cuprum's ends of unread output (a
    child blocked on writing gets EPIPE), waits for the children, and on
    error or cancellation terminates them (SIGTERM, then SIGKILL after
    ``cancel_grace``); an error raised inside the block reaches the caller
    unwrapped.
    """

    def __init__(self, stages: Sequence[SafeCmd], options: RunOptions) -> None:
        self._stages = tuple(stages)
        self._options = options
        self._run: Run | None = None
        self._tg: TaskGroup | None = None
        self._outcome: PipelineResult | None = None
        self._single = len(stages) == 1
        self.stdin: ByteSendStream | None = None
        self.stdout: ByteReceiveStream | None = None
        self.stderr: ByteReceiveStream | None = None

    @classmethod
    def for_stages(
        cls,
        stages: Sequence[SafeCmd],
        *,
        stdin: Any,
        stdout: Any,
        stderr: Any,
        context: ExecutionContext | None,
        timeout: float | None,
        encoding: str,
        errors: str,
    ) -> Process:
        """Describe the process; it starts on ``async with``."""
        options = RunOptions.build(
            stdin=None if stdin is True or stdin is False else stdin,
            stdout=None if stdout in (True, False) else stdout,
            stderr=None if stderr in (True, False) else stderr,
            capture=True, context=context, timeout=timeout, encoding=encoding,
            errors=errors, pipe_stdin=stdin is True, pipe_stdout=stdout is True,
            pipe_stderr=stderr is True,
        )  # fmt: skip
        return cls(stages, options)

    @property
    def pid(self) -> int | None:
        """The pid of the (last) child, once started."""
        if self._run is None or self._run.stages[-1].child is None:
            return None
        return self._run.stages[-1].child.pid

    @property
    def result(self) -> CommandResult | PipelineResult | None:
        """The result, once the block has been left (None before)."""
        if self._outcome is None:
            return None
        return self._outcome.stages[0] if self._single else self._outcome

    async def __aenter__(self) -> Self:
        run = await prepare(self._stages, self._options)
        self._run = run
        tg = anyio.create_task_group()
        await tg.__aenter__()
        self._tg = tg
        try:
            await tg.start(self._execute, run)
        except BaseException as exc:
            self._close_streams()
            tg.cancel_scope.cancel()
            try:
                await tg.__aexit__(None, None, None)
            except BaseException:  # noqa: S110 - the first error is the one to report
                pass
            raise unwrap(exc) from None
        plan = run.plan
        assert plan is not None
        self.stdin, self.stdout, self.stderr = plan.stdin, plan.stdout, plan.stderr
        return self

    async def _execute(self, run: Run, *, task_status: TaskStatus[None]) -> None:
        async def announce() -> None:
            await run.spawned.wait()
            task_status.started()

        async with anyio.create_task_group() as inner:
            inner.start_soon(announce)
            self._outcome = await run.execute()
            if not run.spawned.is_set():
                # Nothing was spawned (the timeout expired while waiting for
                # a remote session): the error below reaches `__aenter__`.
                inner.cancel_scope.cancel()
        await run.call_after_hooks()
        if run.timed_out and self.result is not None:
            raise TimeoutExpired(self.result, math.inf if run.timeout is None else run.timeout)

    def _close_streams(self) -> None:
        plan = self._run.plan if self._run is not None else None
        if plan is None:
            return
        for stream in (plan.stdin, plan.stdout, plan.stderr):
            if stream is not None:
                stream.close()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        tg = self._tg
        assert tg is not None
        if exc is not None:
            tg.cancel_scope.cancel()
        self._close_streams()
        try:
            try:
                # The block ran inside cuprum's task group: hand it the block's
                # outcome, so the group absorbs a cancellation of its own
                # making and reports an internal error instead.
                suppressed = await tg.__aexit__(exc_type, exc, tb)
            finally:
                with anyio.CancelScope(shield=True):
                    await self._end_groups()
        except BaseException as error:
            raise unwrap(error) from None
        return bool(suppressed)

    async def _end_groups(self) -> None:
        """End what is left of each child's process group (background jobs)."""
        if self._run is None:
            return
        for stage in self._run.stages:
            await end_leftovers(stage)

    def send_signal(self, sig: int) -> None:
        """Send ``sig`` to the child's process group (every stage's, for a pipeline).

        The signal goes out from cuprum's task at the next scheduling point;
        a stage that has exited is left alone. A child that dies of it
        counts as ended by cuprum, not as a failure of its own.

        Raises
        ------
        ValueError
            ``sig`` is not a signal number.
        RuntimeError
            Outside the ``async with`` block.
        """
        number = signal.Signals(sig)  # ValueError for a number that is no signal
        run, tg = self._run, self._tg
        if run is None or tg is None:
            raise RuntimeError("the process is not running: use it inside `async with`")
        for stage in run.stages:
            child = stage.child
            if child is not None and child.returncode is None:
                tg.start_soon(child.signal, int(number))

    def terminate(self) -> None:
        """Send SIGTERM (see `send_signal`)."""
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """Send SIGKILL (see `send_signal`)."""
        self.send_signal(signal.SIGKILL)

    async def wait(self) -> int:
        """Wait for the children to exit; return the (last) exit code.

        This does not wait for background descendants that still hold the
        pipes.
        """
        run = self._run
        assert run is not None, "use `async with cmd.open() as proc`"
        code = 0
        for stage in run.stages:
            assert stage.child is not None
            code = await stage.child.wait()
        return code

    async def lines(self, *, split_cr: bool = False) -> AsyncIterator[str]:
        """Yield decoded lines of stdout, without their line ends."""
        if self.stdout is None:
            raise RuntimeError("stdout is not a pipe: open() with stdout=True")
        splitter = LineSplitter(self._options.encoding, self._options.errors, split_cr=split_cr)
        while True:
            try:
                data = await self.stdout.receive()
            except (anyio.EndOfStream, anyio.ClosedResourceError):
                break
            for line in splitter.feed(data):
                yield line
        for line in splitter.finish():
            yield line


async def iterate_lines(
    stages: Sequence[SafeCmd],
    *,
    stdin: Any,
    context: ExecutionContext | None,
    timeout: float | None,
    encoding: str,
    errors: str,
    split_cr: bool,
) -> AsyncIterator[str]:
    """Yield the last stage's stdout lines, then check the exit status.

    This generator runs no background task and holds no cancel scope across
    a ``yield`` (a consumer may abandon it anywhere, and it may be closed
    from another task): the stages are joined by kernel pipes, stderr goes
    to anonymous temporary files, and stdin comes from a file.
    """
    options = RunOptions.build(
        stdin=stdin, context=context, timeout=timeout, encoding=encoding, errors=errors
    )
    run = await prepare(stages, options)
    deadline = math.inf if run.timeout is None else time.monotonic() + run.timeout
    lines = LineLoop(run, encoding, errors, split_cr=split_cr)
    single = len(stages) == 1
    finished: EventPhase | None = None
    try:
        await lines.start(stdin, deadline)
        while True:
            batch = await lines.next_batch(deadline)
            if batch is None:
                break
            for line in batch:
                yield line
        for line in await lines.last_lines():
            yield line
        await lines.wait(deadline)
        result = lines.result(single=single)
        finished = EventPhase.EXIT
    except TimeoutError:
        # The stages still running when time ran out are the timed-out ones.
        late = [s.index for s in run.stages if s.child is None or s.child.poll() is None]
        run.timed_out = True
        with anyio.CancelScope(shield=True):
            await lines.stop()
        partial = lines.result(single=single, timed_out=late)
        finished = EventPhase.TIMEOUT
        await _finish(run, finished)
        raise TimeoutExpired(partial, math.inf if run.timeout is None else run.timeout) from None
    finally:
        with anyio.CancelScope(shield=True):
            await lines.stop()
            lines.close()
            if finished is None and run.observers.listening:
                # Left early: break, an error, or cancellation.
                await run.final_events(EventPhase.CANCEL)
    await _finish(run, EventPhase.EXIT)
    if not result.ok:
        raise CommandFailed(result)


async def _finish(run: Run, phase: EventPhase) -> None:
    if run.observers.listening:
        await run.final_events(phase, every_stage=True)
    await run.call_after_hooks()
