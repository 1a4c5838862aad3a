"""The engine: run one command or a pipeline of them in one task group.

A single command is a pipeline of one stage. For each run cuprum opens
every descriptor itself (`FdSet`), spawns the stages on raw descriptors,
then supervises in one anyio task group: a watcher per stage, a pump per
pair of stages, a reader per captured stream and a feeder for stdin.
However the run ends, a shielded cleanup terminates what still runs, reaps
it and closes every descriptor before the outcome reaches the caller.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, final

import anyio
from anyio.abc import TaskGroup

from ._backend import get_stream_backend
from ._context import current_scope
from ._errors import CommandFailed, TimeoutExpired, unwrap
from ._events import EventPhase, Observers, call_maybe_async, new_id
from ._options import RunOptions, resolve_context
from ._plumbing import FdSet
from ._policy import StageEnd, first_failure
from ._pumpers import Pumper, pumper_for
from ._results import CommandResult, PipelineResult
from ._stage import Stage
from ._transport import admit, release
from ._wiring import IoPlan, plan_io

if TYPE_CHECKING:
    from ._commands import SafeCmd
    from ._iotasks import IoTask

__all__ = ["Run", "end_leftovers", "prepare", "run_pipeline", "terminate_all", "terminate_others"]


@final
class Run:
    """One run of a pipeline (or a single command)."""

    def __init__(self, stages: list[Stage], options: RunOptions, observers: Observers) -> None:
        self.stages = stages
        self.options = options
        self.observers = observers
        self.pipeline_id = new_id("pipeline") if len(stages) > 1 else None
        timeouts = [s.ctx.timeout for s in stages if s.ctx.timeout is not None]
        self.timeout = min(timeouts) if timeouts else None
        self.grace = max(s.ctx.cancel_grace for s in stages)
        self.pumper: Pumper = pumper_for(get_stream_backend())
        self.fds = FdSet()
        self.plan: IoPlan | None = None
        self.timed_out = False
        self.started = time.monotonic()
        self.waited = 0.0  # seconds spent waiting for admission (remote sessions)
        self.remaining = len(stages)
        self.all_done = anyio.Event() if len(stages) > 1 else None  # all but the last
        self.deadline_passed = anyio.Event() if self.timeout is not None else None
        self.tg: TaskGroup | None = None
        self.spawned = anyio.Event()
        self.admissions = [(s.transport, s.launch) for s in stages]
        # With `open()` the caller reads output that a background job may
        # still write: its block's exit ends the leftovers, not the stage's.
        self.hands_out_output = options.pipe_stdout or options.pipe_stderr

    async def execute(self) -> PipelineResult:
        try:
            if not await self.admit():
                return self.outcome()
            self.plan = plan = plan_io(self)  # opens descriptors, describes the I/O tasks
            for stage, wiring in zip(self.stages, plan.stages, strict=True):
                stage.start(wiring)
            self.fds.close_child_ends()
            if self.observers.listening:
                for stage in self.stages:
                    stage.announced = True
                    await self.observers.emit(stage.event(EventPhase.START, self.pipeline_id))
            self.spawned.set()
            await self._supervise()
        except BaseException as exc:
            with anyio.CancelScope(shield=True):
                await self._cleanup(exc)
            raise unwrap(exc) from None
        finally:
            self.fds.close_all()
            self.pumper.close()  # after every transfer returned
            release(self.admissions)
        return self.outcome()

    async def admit(self) -> bool:
        """Take the stages' admissions within the run's timeout; False if it expired.

        The time spent waiting counts against the timeout. When it expires
        nothing was spawned: every stage gets an empty result and a
        ``timeout`` event.
        """
        if self.timeout is None:
            await admit(self.admissions)
            return True
        with anyio.move_on_after(self.timeout) as scope:
            await admit(self.admissions)
        if not scope.cancelled_caught:
            self.waited = time.monotonic() - self.started
            return True
        release(self.admissions)
        self.timed_out = True
        for stage in self.stages:
            stage.result = stage.build_result(
                self.options.encoding, self.options.errors, timed_out=True
            )
        if self.observers.listening:
            await self.final_events(EventPhase.TIMEOUT, every_stage=True)
        return False

    def tasks_of(self, stage: Stage) -> tuple[IoTask, ...]:
        """The I/O tasks that must end before ``stage`` is done."""
        return stage.wiring.tasks if stage.wiring is not None else ()

    async def _supervise(self) -> None:
        try:
            async with anyio.create_task_group() as tg:
                self.tg = tg
                for stage in self.stages:
                    for io in self.tasks_of(stage):
                        tg.start_soon(io.run)
                first = self.stages[0].wiring
                if first is not None and first.inbound is not None:
                    tg.start_soon(first.inbound.run)
                *others, last = self.stages
                for stage in others:
                    tg.start_soon(self._watch, stage)
                deadline: anyio.CancelScope | None = None
                if self.timeout is not None:
                    deadline = anyio.CancelScope()
                    tg.start_soon(self._deadline, deadline, max(0.0, self.timeout - self.waited))
                try:
                    await self._watch(last)  # here: one task less to start
                    if self.all_done is not None:
                        await self.all_done.wait()
                except BaseException:
                    self._stop_all_io()
                    raise
                if deadline is not None:
                    # (anyio's cancel() formats the task's repr: not free)
                    deadline.cancel()
        finally:
            self.tg = None

    async def _deadline(self, scope: anyio.CancelScope, timeout: float) -> None:
        with scope:
            await anyio.sleep(timeout)
        if scope.cancelled_caught:
            return
        self.timed_out = True
        assert self.deadline_passed is not None
        self.deadline_passed.set()
        # The escalations run in the run's own task group, not in this
        # scope: ending the run must not cut a SIGKILL short.
        assert self.tg is not None
        for stage in self.stages:
            if stage.child is not None and stage.child.returncode is None:
                self.tg.start_soon(stage.child.terminate, stage.ctx.cancel_grace)

    async def _watch(self, stage: Stage) -> None:
        assert stage.child is not None
        await stage.child.wait()
        if stage.wiring is not None and stage.wiring.inbound is not None:
            stage.wiring.inbound.stop()  # nobody reads what it would feed
        if stage.end() is StageEnd.FAILED and not self.timed_out:
            assert self.tg is not None
            terminate_others(self.stages, stage, self.tg)
        await self._drain(stage)
        await stage.launch.settle(quiet=self.timed_out)
        if not self.timed_out and not self.hands_out_output:
            await end_leftovers(stage)
        stage.result = stage.build_result(
            self.options.encoding, self.options.errors,
            downstream_done=self.downstream_done(stage), timed_out=self.timed_out,
        )  # fmt: skip
        if self.observers.listening:
            phase = EventPhase.TIMEOUT if self.timed_out else EventPhase.EXIT
            await self.observers.emit(
                stage.event(phase, self.pipeline_id, exit_code=stage.result.exit_code,
                            duration=stage.result.duration,
                            ok=stage.result.ok and not self.timed_out,
                            bytes_out=None if stage.last else stage.bytes_out)
            )  # fmt: skip
        self.remaining -= 1
        if self.remaining == 0 and self.all_done is not None:
            self.all_done.set()

    def downstream_done(self, stage: Stage) -> bool:
        """True when every stage after ``stage`` has exited."""
        later = self.stages[stage.index + 1 :]
        return bool(later) and all(
            s.child is not None and s.child.poll() is not None for s in later
        )

    async def _drain(self, stage: Stage) -> None:
        """Let the stage's output reach end of file, but never hang on it.

        A background descendant may hold the pipes: after ``cancel_grace``
        its process group is ended, and then the readers are stopped. With
        no writer left, the readers get all the time they need, up to the
        run's timeout (a filtered stderr relayed to a pipe nobody reads).
        """
        pending = [io for io in self.tasks_of(stage) if not io.done]
        if not pending:
            return
        with anyio.move_on_after(stage.ctx.cancel_grace):
            for io in pending:
                await io.wait()
        if all(io.done for io in pending):
            return
        if not any(io.source_has_writers() for io in pending if not io.done):
            # No process can write any more: what is left is bytes already in
            # the pipes, on their way to a slow reader. Let them arrive, but
            # not past the run's timeout (a reader that never reads).
            async with anyio.create_task_group() as tg:
                if self.deadline_passed is not None:
                    tg.start_soon(_cancel_on, self.deadline_passed, tg.cancel_scope)
                for io in pending:
                    await io.wait()
                tg.cancel_scope.cancel()
            if not self.timed_out:
                return
        else:
            assert stage.child is not None
            await stage.child.end_group(stage.ctx.cancel_grace)
            with anyio.move_on_after(0.05):
                for io in pending:
                    await io.wait()
        for io in pending:
            io.stop()
            await io.wait()

    def _stop_all_io(self) -> None:
        for stage in self.stages:
            for io in self.tasks_of(stage):
                io.stop()
            if stage.wiring is not None and stage.wiring.inbound is not None:
                stage.wiring.inbound.stop()

    async def _cleanup(self, exc: BaseException) -> None:
        """Terminate and reap every child; runs shielded."""
        self._stop_all_io()
        await terminate_all(self.stages)
        if self.observers.listening:
            cancelled = isinstance(exc, anyio.get_cancelled_exc_class())
            await self.final_events(EventPhase.CANCEL if cancelled else EventPhase.EXIT)

    async def final_events(self, phase: EventPhase, *, every_stage: bool = False) -> None:
        """Give the stages their last event (by default, those without one yet).

        Errors of listeners are not raised here: the run is already ending
        with the error that matters.
        """
        for stage in self.stages:
            if stage.result is not None and not every_stage:
                continue
            child = stage.child
            result = stage.result
            if child is not None and not stage.announced:
                # Spawned, but the run failed before announcing it.
                stage.announced = True
                with contextlib.suppress(Exception):
                    await self.observers.emit(stage.event(EventPhase.START, self.pipeline_id))
            event = stage.event(
                phase, self.pipeline_id, exit_code=child.returncode if child else None,
                duration=result.duration if result else
                (time.monotonic() - child.started_at) if child else 0.0,
                ok=bool(result and result.ok and phase is EventPhase.EXIT),
                bytes_out=None if stage.last else stage.bytes_out,
            )  # fmt: skip
            try:
                await self.observers.emit(event)
            except Exception:  # noqa: S112 - see the docstring
                continue

    async def call_after_hooks(self) -> None:
        """Call the after hooks with each stage's result."""
        for stage in self.stages:
            if stage.result is None:
                continue
            for hook in self.observers.after:
                await call_maybe_async(hook, stage.cmd, stage.result)

    def outcome(self) -> PipelineResult:
        """Assemble the `PipelineResult` from the stages' results, by the policy."""
        results: list[CommandResult] = []
        for stage in self.stages:
            assert stage.result is not None
            results.append(stage.result)
        index = first_failure([stage.end() for stage in self.stages])
        return PipelineResult(
            stages=tuple(results), failure=None if index is None else results[index],
            failure_index=index, duration=time.monotonic() - self.started,
            ok=index is None and not self.timed_out and all(r.ok for r in results),
        )  # fmt: skip


def terminate_others(stages: Sequence[Stage], failed: Stage, tg: TaskGroup) -> None:
    """End every other stage that still runs (``failed`` failed on its own)."""
    for other in stages:
        if other is not failed and other.child is not None and other.child.returncode is None:
            tg.start_soon(other.child.terminate, other.ctx.cancel_grace)


async def end_leftovers(stage: Stage) -> None:
    """Nothing outlives its run: end what is left of an exited stage's process group.

    A background job that holds no pipe gets SIGTERM, then SIGKILL after
    ``cancel_grace``, unless the stage's context says ``keep_background``.
    """
    child = stage.child
    if child is not None and child.returncode is not None and not stage.ctx.keep_background:
        await child.end_group(stage.ctx.cancel_grace)


async def terminate_all(stages: Sequence[Stage]) -> None:
    """Terminate every stage that still runs, reap it and close it (call shielded)."""
    async with anyio.create_task_group() as tg:
        for stage in stages:
            if stage.child is not None and stage.child.returncode is None:
                tg.start_soon(stage.child.terminate, stage.ctx.cancel_grace)
    for stage in stages:
        if stage.child is not None:
            stage.child.close()


async def _cancel_on(event: anyio.Event, scope: anyio.CancelScope) -> None:
    await event.wait()
    scope.cancel()


def _ok_codes(cmd: SafeCmd, options: RunOptions) -> frozenset[int]:
    if cmd.ok_codes is not None:
        return cmd.ok_codes
    if options.ok_codes is not None:
        return options.ok_codes
    return frozenset({0})


async def prepare(cmds: Sequence[SafeCmd], options: RunOptions) -> Run:
    """Check everything a run needs and call the before hooks; spawn nothing.

    Raises
    ------
    ForbiddenProgramError
        A program is outside the current scope's allowlist, however early
        its command was built: the scope decides what may run.
    ProgramNotFoundError, PermissionError, FileNotFoundError, NotADirectoryError
        Before anything is spawned.
    """
    scope = current_scope.get()
    scope.require_allowed(cmd.program for cmd in cmds)
    observers = Observers(scope)
    for cmd in cmds:
        for hook in observers.before:
            await call_maybe_async(hook, cmd)
    last = len(cmds) - 1
    stages = [
        Stage(cmd, index, resolve_context(cmd.context, options.context, options.timeout, cmd.host),
              _ok_codes(cmd, options), last=index == last)
        for index, cmd in enumerate(cmds)
    ]  # fmt: skip
    run = Run(stages, options, observers)
    if observers.listening:
        for stage in stages:
            await observers.emit(stage.event(EventPhase.PLAN, run.pipeline_id))
    return run


async def run_pipeline(
    cmds: Sequence[SafeCmd], options: RunOptions, *, single: bool = True
) -> PipelineResult:
    """Run ``cmds`` as a pipeline (one command: a pipeline of one stage).

    Raises
    ------
    TimeoutExpired
        With the partial `PipelineResult`.
    CommandFailed
        With ``check=True`` when the result is not ok.
    """
    run = await prepare(cmds, options)
    result = await run.execute()
    await run.call_after_hooks()
    if run.timed_out:
        timeout = math.inf if run.timeout is None else run.timeout
        raise TimeoutExpired(result.stages[0] if single else result, timeout)
    if options.check:
        if single:
            result.stages[0].check()
        elif not result.ok:
            raise CommandFailed(result)
    return result
