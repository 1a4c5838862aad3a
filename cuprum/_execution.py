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
import errno
import math
import os
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, final

import anyio
from anyio.abc import TaskGroup

from ._backend import StreamBackend, get_stream_backend
from ._context import current_scope
from ._errors import CommandFailed, TimeoutExpired
from ._events import EventPhase, ExecEvent, Observers, call_maybe_async, new_id
from ._fdstream import FdReceiveStream, FdSendStream
from ._io import IoTask, start_io
from ._options import ResolvedContext, RunOptions, resolve_context
from ._plumbing import FdSet
from ._process import Child, build_env, resolve_executable, spawn
from ._remote_child import RemoteChild
from ._remote_stage import RemoteStage, acquire_sessions, release_sessions
from ._results import CommandResult, PipelineResult

if TYPE_CHECKING:
    from ._capture import Capture
    from ._commands import SafeCmd

__all__ = ["Run", "Stage", "prepare", "run_pipeline"]


def _check_cwd(cwd: str | None) -> None:
    if cwd is None:
        return
    if not os.path.exists(cwd):
        raise FileNotFoundError(errno.ENOENT, f"working directory {cwd!r} does not exist", cwd)
    if not os.path.isdir(cwd):
        raise NotADirectoryError(
            errno.ENOTDIR, f"working directory {cwd!r} is not a directory", cwd
        )


@final
class Stage:
    """The state of one stage of a run."""

    def __init__(self, cmd: SafeCmd, index: int, ctx: ResolvedContext, ok: frozenset[int]) -> None:
        self.cmd = cmd
        self.index = index
        self.ctx = ctx
        self.ok_codes = ok
        self.remote: RemoteStage | None = None
        if ctx.host is None:
            self.env = build_env(ctx.env)
            _check_cwd(ctx.cwd)
            self.executable = resolve_executable(cmd.argv[0], self.env)
        else:
            # Env and cwd apply on the remote side; locally this is `ssh`.
            self.remote = RemoteStage(ctx.host, cmd, ctx)
            self.env = None
            self.executable = self.remote.host.ssh
        self.run_id = new_id("run")
        self.child: Child | RemoteChild | None = None
        self.stdout: Capture | None = None
        self.stderr: Capture | None = None
        self.io: list[IoTask] = []  # tasks that must end before the stage is done
        self.inbound: IoTask | None = None  # what feeds this stage's stdin
        self.result: CommandResult | None = None
        self.bytes_out = 0
        self.fd_in = self.fd_out = self.fd_err = -1
        self.announced = False  # its START event went out

    def start(self, *, stdin: int, stdout: int, stderr: int) -> None:
        """Spawn the stage's process on the given descriptors."""
        if self.remote is not None:
            self.child = self.remote.spawn(stdin=stdin, stdout=stdout, stderr=stderr)
            return
        self.child = spawn(
            self.cmd.argv, self.executable, stdin=stdin, stdout=stdout, stderr=stderr,
            cwd=self.ctx.cwd, env=self.env,
        )  # fmt: skip

    @property
    def host(self) -> str | None:
        """The remote host's destination, None for a local stage."""
        return self.remote.destination if self.remote is not None else None

    def event(self, phase: EventPhase, pipeline_id: str | None, **fields: object) -> ExecEvent:
        """Build an event of this stage."""
        child = self.child
        remote = self.remote
        return ExecEvent(
            phase=phase, run_id=self.run_id, pipeline_id=pipeline_id, stage_index=self.index,
            program=self.cmd.program, argv=self.cmd.argv, cwd=self.ctx.cwd,
            pid=child.pid if child else None, time=time.monotonic(), tags=self.ctx.tags,
            unsafe=self.cmd.unsafe, host=self.host,
            remote_pgid=remote.markers.pgid if remote is not None else None,
            **fields,  # pyright: ignore[reportArgumentType]
        )  # fmt: skip

    def failed_on_its_own(self, last: bool) -> bool:
        """True when the stage's exit is a failure cuprum did not cause."""
        child = self.child
        if child is None or child.returncode is None:
            return False
        code = child.returncode
        if code in self.ok_codes:
            return False
        if child.ended_by_cuprum():
            return False
        return not (child.died_of_sigpipe() and not last)

    def build_result(
        self, encoding: str, errors: str, *, last: bool, downstream_done: bool = False
    ) -> CommandResult:
        """Make the stage's `CommandResult` from what was read so far.

        A remote stage that cuprum had to end after its downstream finished
        is excused like a local SIGPIPE: the master may drop its exit report
        once nobody reads its stdout, so cuprum ends the group to be sure.
        """
        child = self.child
        code = child.returncode if child else None
        duration = 0.0
        if child is not None:
            duration = (child.exited_at or time.monotonic()) - child.started_at
        out = self.stdout.getvalue() if self.stdout is not None else None
        err = self.stderr.getvalue() if self.stderr is not None else None
        excused = (
            child is not None
            and not last
            and (
                child.died_of_sigpipe()
                or (downstream_done and self.remote is not None and child.ended_by_cuprum())
            )
        )
        return CommandResult(
            program=self.cmd.program, argv=self.cmd.argv, pid=child.pid if child else None,
            exit_code=code, stdout_bytes=out, stderr_bytes=err, duration=duration,
            encoding=encoding, errors=errors,
            ok=code is not None and (code in self.ok_codes or excused),
            truncated=any(c is not None and c.truncated for c in (self.stdout, self.stderr)),
            host=self.host,
        )  # fmt: skip


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
        self.backend: StreamBackend = get_stream_backend()
        self.fds = FdSet()
        self.timed_out = False
        self.started = time.monotonic()
        self.waited = 0.0  # seconds spent waiting for remote sessions
        self.remaining = len(stages)
        self.all_done = anyio.Event()
        self.deadline_passed = anyio.Event()  # set when the timeout expires
        self.tg: TaskGroup | None = None
        self.user_stdin: FdSendStream | None = None
        self.user_stdout: FdReceiveStream | None = None
        self.user_stderr: FdReceiveStream | None = None
        self.spawned = anyio.Event()
        self.remotes = [s.remote for s in stages if s.remote is not None]

    async def execute(self) -> PipelineResult:
        try:
            if self.remotes and not await self._take_sessions():
                return self.outcome()
            start_io(self)  # opens descriptors and describes the I/O tasks
            for stage in self.stages:
                stage.start(stdin=stage.fd_in, stdout=stage.fd_out, stderr=stage.fd_err)
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
            release_sessions(self.remotes)
        return self.outcome()

    async def _take_sessions(self) -> bool:
        """Take the remote sessions within the run's timeout; False if it expired.

        The time spent waiting counts against the timeout. When it expires
        nothing was spawned: every stage gets an empty result and a
        ``timeout`` event.
        """
        limit = math.inf if self.timeout is None else self.timeout
        with anyio.move_on_after(limit) as scope:
            await acquire_sessions(self.remotes)
        if not scope.cancelled_caught:
            self.waited = time.monotonic() - self.started
            return True
        release_sessions(self.remotes)
        self.timed_out = True
        for stage in self.stages:
            stage.result = stage.build_result(
                self.options.encoding, self.options.errors, last=stage is self.stages[-1]
            )
        if self.observers.listening:
            await self.final_events(EventPhase.TIMEOUT, every_stage=True)
        return False

    async def _supervise(self) -> None:
        try:
            async with anyio.create_task_group() as tg:
                self.tg = tg
                for stage in self.stages:
                    for io in stage.io:
                        tg.start_soon(io.run)
                feeder = self.stages[0].inbound
                if feeder is not None:
                    tg.start_soon(feeder.run)
                for stage in self.stages:
                    tg.start_soon(self._watch, stage)
                deadline = anyio.CancelScope()
                if self.timeout is not None:
                    left = max(0.0, self.timeout - self.waited)
                    tg.start_soon(self._deadline, deadline, left)
                try:
                    await self.all_done.wait()
                except BaseException:
                    self._stop_all_io()
                    raise
                deadline.cancel()
        finally:
            self.tg = None

    async def _deadline(self, scope: anyio.CancelScope, timeout: float) -> None:
        with scope:
            await anyio.sleep(timeout)
        if scope.cancelled_caught:
            return
        self.timed_out = True
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
        if stage.inbound is not None:
            stage.inbound.stop()  # nobody reads what it would feed
        last = stage.index == len(self.stages) - 1
        if stage.failed_on_its_own(last) and not self.timed_out:
            self._terminate_others(stage)
        await self._drain(stage)
        if stage.remote is not None:
            await stage.remote.settle(quiet=self.timed_out)
        stage.result = stage.build_result(
            self.options.encoding, self.options.errors, last=last,
            downstream_done=self.downstream_done(stage),
        )  # fmt: skip
        if self.observers.listening:
            phase = EventPhase.TIMEOUT if self.timed_out else EventPhase.EXIT
            await self.observers.emit(
                stage.event(phase, self.pipeline_id, exit_code=stage.result.exit_code,
                            duration=stage.result.duration,
                            ok=stage.result.ok and not self.timed_out,
                            bytes_out=None if last else stage.bytes_out)
            )  # fmt: skip
        self.remaining -= 1
        if self.remaining == 0:
            self.all_done.set()

    def downstream_done(self, stage: Stage) -> bool:
        """True when every stage after ``stage`` has exited."""
        later = self.stages[stage.index + 1 :]
        return bool(later) and all(
            s.child is not None and s.child.poll() is not None for s in later
        )

    def _terminate_others(self, failed: Stage) -> None:
        assert self.tg is not None
        for other in self.stages:
            if other is not failed and other.child is not None and other.child.returncode is None:
                self.tg.start_soon(other.child.terminate, other.ctx.cancel_grace)

    async def _drain(self, stage: Stage) -> None:
        """Let the stage's output reach end of file, but never hang on it.

        A background descendant may hold the pipes: after ``cancel_grace``
        its process group is ended, and then the readers are stopped. With
        no writer left, the readers get all the time they need, up to the
        run's timeout (a remote stage's stderr relayed to a pipe nobody reads).
        """
        pending = [io for io in stage.io if not io.finished.is_set()]
        if not pending:
            return
        with anyio.move_on_after(stage.ctx.cancel_grace):
            for io in pending:
                await io.finished.wait()
        if all(io.finished.is_set() for io in pending):
            return
        if not any(io.source_has_writers() for io in pending if not io.finished.is_set()):
            # No process can write any more: what is left is bytes already in
            # the pipes, on their way to a slow reader. Let them arrive, but
            # not past the run's timeout (a reader that never reads).
            async with anyio.create_task_group() as tg:
                tg.start_soon(_cancel_on, self.deadline_passed, tg.cancel_scope)
                for io in pending:
                    await io.finished.wait()
                tg.cancel_scope.cancel()
            if not self.timed_out:
                return
        else:
            assert stage.child is not None
            await stage.child.end_group(stage.ctx.cancel_grace)
            with anyio.move_on_after(0.05):
                for io in pending:
                    await io.finished.wait()
        for io in pending:
            io.stop()
            await io.finished.wait()

    def _stop_all_io(self) -> None:
        for stage in self.stages:
            for io in stage.io:
                io.stop()
            if stage.inbound is not None:
                stage.inbound.stop()

    async def _cleanup(self, exc: BaseException) -> None:
        """Terminate and reap every child; runs shielded."""
        self._stop_all_io()
        async with anyio.create_task_group() as tg:
            for stage in self.stages:
                if stage.child is not None and stage.child.returncode is None:
                    tg.start_soon(stage.child.terminate, stage.ctx.cancel_grace)
        for stage in self.stages:
            if stage.child is not None:
                stage.child.close()
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
                bytes_out=None if stage is self.stages[-1] else stage.bytes_out,
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
        """Assemble the `PipelineResult` from the stages' results."""
        results: list[CommandResult] = []
        failure: CommandResult | None = None
        failure_index: int | None = None
        for stage in self.stages:
            assert stage.result is not None
            results.append(stage.result)
            last = stage.index == len(self.stages) - 1
            if failure is None and stage.failed_on_its_own(last):
                failure, failure_index = stage.result, stage.index
        return PipelineResult(
            stages=tuple(results), failure=failure, failure_index=failure_index,
            duration=time.monotonic() - self.started,
            ok=failure is None and not self.timed_out and all(r.ok for r in results),
        )  # fmt: skip


async def _cancel_on(event: anyio.Event, scope: anyio.CancelScope) -> None:
    await event.wait()
    scope.cancel()


def unwrap(exc: BaseException) -> BaseException:
    """Return the one meaningful error of a task group's exception group."""
    while isinstance(exc, BaseExceptionGroup):
        cancelled = anyio.get_cancelled_exc_class()
        inner: list[BaseException] = [
            e
            for e in exc.exceptions  # pyright: ignore[reportUnknownVariableType, reportUnknownMemberType]
            if not isinstance(e, cancelled)
        ]
        if not inner:
            return exc.exceptions[0]  # pyright: ignore[reportUnknownVariableType, reportUnknownMemberType]
        exc = inner[0]
    return exc


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
    stages = [
        Stage(cmd, index, resolve_context(cmd.context, options.context, options.timeout, cmd.host),
              _ok_codes(cmd, options))
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
