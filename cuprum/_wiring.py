"""The I/O plan of a run: which descriptors each stage gets, and who moves its bytes.

`plan_io` opens every descriptor of a run and returns the plan as a value:
for each stage its `StageIo` (what the transport spawns on), the I/O tasks
that must end before the stage is done, what feeds its stdin and what keeps
its output; for ``open()`` the caller's ends. Nothing here knows a
transport by name: a stage whose `Launch.filters_stderr` has its stderr
read through `Launch.read_stderr`, and one that wants a `Launch.lifeline`
gets an open, unwritten stdin when no stdin is given.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterable
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, final

from anyio.abc import ByteReceiveStream

from ._iotasks import IoTask, feeder, filtered_stderr, pump_task, reader_task
from ._transport import StageIo

if TYPE_CHECKING:
    from ._capture import Capture
    from ._execution import Run
    from ._fdstream import FdReceiveStream, FdSendStream
    from ._plumbing import FdSet
    from ._stage import Stage

__all__ = ["IoPlan", "StageWiring", "plan_io"]


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class StageWiring:
    """One stage's part of the plan.

    Attributes
    ----------
    io : StageIo
        The descriptors the stage is spawned on.
    tasks : tuple[IoTask, ...]
        Tasks that read the stage's output; they must end before it is done.
    inbound : IoTask | None
        What feeds the stage's stdin (a feeder or the pump from upstream).
    stdout, stderr : Capture | None
        Where its captured output is kept.
    """

    io: StageIo
    tasks: tuple[IoTask, ...] = ()
    inbound: IoTask | None = None
    stdout: Capture | None = None
    stderr: Capture | None = None


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class IoPlan:
    """The whole run's plan, and the caller's ends for ``open()``."""

    stages: tuple[StageWiring, ...]
    stdin: FdSendStream | None = None
    stdout: FdReceiveStream | None = None
    stderr: FdReceiveStream | None = None


@dataclass(slots=True)
class _Draft:
    """A stage's wiring while the plan is being made."""

    stdin: int = -1
    stdout: int = -1
    stderr: int = -1
    lifeline: bool = False
    merge_stderr: bool = False
    stdout_source: FdReceiveStream | None = None
    stderr_source: FdReceiveStream | None = None
    tasks: list[IoTask] = field(default_factory=list[IoTask])
    inbound: IoTask | None = None
    stdout_capture: Capture | None = None
    stderr_capture: Capture | None = None

    def done(self) -> StageWiring:
        io = StageIo(
            stdin=self.stdin, stdout=self.stdout, stderr=self.stderr, lifeline=self.lifeline,
            merge_stderr=self.merge_stderr, stdout_source=self.stdout_source,
            stderr_source=self.stderr_source,
        )  # fmt: skip
        return StageWiring(
            io=io, tasks=tuple(self.tasks), inbound=self.inbound,
            stdout=self.stdout_capture, stderr=self.stderr_capture,
        )  # fmt: skip


def _output_fd(fds: FdSet, target: os.PathLike[str] | IO[bytes], append: bool) -> int:
    if isinstance(target, os.PathLike):
        return fds.open_path(target, write=True, append=append)
    return fds.file_fd(target)


def plan_io(run: Run) -> IoPlan:
    """Open every descriptor of the run and describe its I/O tasks.

    Every descriptor is the run's `FdSet`'s to close, but for the caller's
    ends of ``open()``, which are closed here if planning fails.
    """
    user: list[FdSendStream | FdReceiveStream] = []
    try:
        return _plan(run, user)
    except BaseException:
        for stream in user:
            stream.close()
        raise


def _plan(run: Run, user: list[FdSendStream | FdReceiveStream]) -> IoPlan:
    options, fds, stages = run.options, run.fds, run.stages
    drafts = [_Draft() for _ in stages]
    first, last = drafts[0], drafts[-1]
    user_stdin: FdSendStream | None = None
    user_stdout: FdReceiveStream | None = None
    user_stderr: FdReceiveStream | None = None

    stdin = options.stdin
    if options.pipe_stdin:
        user_stdin, first.stdin = fds.writer(track=False)
        user.append(user_stdin)
    elif stdin is None and stages[0].launch.lifeline:
        # The lifeline: the stage's stdin stays open, unwritten, until the
        # run ends; if it closes early, the transport ends the command.
        _, first.stdin = fds.writer()
        first.lifeline = True
    elif stdin is None:
        first.stdin = fds.devnull(write=False)
    elif isinstance(stdin, (str, bytes, bytearray, memoryview, ByteReceiveStream, AsyncIterable)):
        feed_sink, first.stdin = fds.writer()
        first.inbound = feeder(feed_sink, stdin, options.encoding)
    else:
        first.stdin = fds.open_path(stdin, write=False)

    for (up_stage, up), down in itertools.pairwise(zip(stages, drafts, strict=True)):
        source, up.stdout = fds.reader(large=True)
        sink, down[1].stdin = fds.writer(large=True)
        task = pump_task(run, up_stage, source, sink)
        up.stdout_source = source
        up.tasks.append(task)
        down[1].inbound = task

    if options.pipe_stdout:
        user_stdout, last.stdout = fds.reader(large=True, track=False)
        user.append(user_stdout)
        last.stdout_source = user_stdout
    elif options.stdout is not None and options.stdout != "stdout":
        last.stdout = _output_fd(fds, options.stdout, options.append)
    elif options.capture or options.echo or run.observers.listening:
        stream, last.stdout = fds.reader(large=True)
        task, last.stdout_capture = reader_task(run, stages[-1], stream, "stdout")
        last.tasks.append(task)
        last.stdout_source = stream
    else:
        last.stdout = fds.devnull(write=True)

    shared_err: int | None = None
    for stage, draft in zip(stages, drafts, strict=True):
        is_last = draft is last
        filtered = stage.launch.filters_stderr
        if options.stderr == "stdout" and is_last:
            if filtered:
                draft.merge_stderr = True  # merged in order on the transport's side
                _filter(run, stage, draft)
            else:
                draft.stderr = draft.stdout
        elif options.pipe_stderr and is_last and len(stages) == 1:
            if filtered:
                user_stderr, sink = fds.relay()
                user.append(user_stderr)
                _filter(run, stage, draft, sink=sink)
            else:
                user_stderr, draft.stderr = fds.reader(track=False)
                user.append(user_stderr)
        elif options.stderr is not None and options.stderr != "stdout":
            if shared_err is None:
                shared_err = _output_fd(fds, options.stderr, options.append)
            if filtered:
                # A dup shares the file offset with the other stages' writes.
                _filter(run, stage, draft, fd=fds.keep(os.dup(shared_err)))
            else:
                draft.stderr = shared_err
        elif options.capture or options.echo or run.observers.listening:
            if filtered:
                _filter(run, stage, draft, capture=True)
            else:
                stream, draft.stderr = fds.reader()
                task, draft.stderr_capture = reader_task(run, stage, stream, "stderr")
                draft.tasks.append(task)
        elif filtered:
            _filter(run, stage, draft)
        else:
            draft.stderr = fds.devnull(write=True)

    return IoPlan(
        stages=tuple(draft.done() for draft in drafts),
        stdin=user_stdin, stdout=user_stdout, stderr=user_stderr,
    )  # fmt: skip


def _filter(
    run: Run,
    stage: Stage,
    draft: _Draft,
    *,
    capture: bool = False,
    sink: FdSendStream | None = None,
    fd: int | None = None,
) -> None:
    stream, draft.stderr = run.fds.reader()
    draft.stderr_source = stream
    task, kept = filtered_stderr(run, stage, stream, capture=capture, sink=sink, fd=fd)
    draft.tasks.append(task)
    if capture:
        draft.stderr_capture = kept
