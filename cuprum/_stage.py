"""One stage of a run: its command, its transport's launch, its child and result."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, final

from ._events import new_id
from ._execevent import EventPhase, ExecEvent, Stamp, line_event
from ._policy import StageEnd, classify
from ._results import CommandResult
from ._transport import ChildProcess, transport_for

if TYPE_CHECKING:
    from ._capture import Capture
    from ._commands import SafeCmd
    from ._options import ResolvedContext
    from ._wiring import StageWiring

__all__ = ["Stage"]


@final
class Stage:
    """The state of one stage of a run.

    Building it prepares the stage with its transport, which checks what
    can be checked before anything is spawned (program, working directory,
    connection) and raises if the stage cannot start.
    """

    __slots__ = (
        "announced",
        "bytes_out",
        "child",
        "cmd",
        "ctx",
        "index",
        "last",
        "launch",
        "ok_codes",
        "reader_left",
        "result",
        "run_id",
        "transport",
        "wiring",
    )

    def __init__(
        self, cmd: SafeCmd, index: int, ctx: ResolvedContext, ok: frozenset[int], *, last: bool
    ) -> None:
        self.cmd = cmd
        self.index = index
        self.last = last
        self.ctx = ctx
        self.ok_codes = ok
        self.transport = transport_for(ctx.host)
        self.launch = self.transport.prepare(cmd, ctx)
        self.run_id = new_id("run")
        self.child: ChildProcess | None = None
        self.wiring: StageWiring | None = None
        self.result: CommandResult | None = None
        self.bytes_out = 0
        self.reader_left = False  # the pump downstream saw its reader go
        self.announced = False  # its START event went out

    def start(self, wiring: StageWiring) -> None:
        """Spawn the stage's process on its part of the I/O plan."""
        self.wiring = wiring
        self.child = self.launch.spawn(wiring.io)

    @property
    def host(self) -> str | None:
        """Where the stage runs, None for this machine."""
        return self.launch.host

    def stamp(self, phase: EventPhase, pipeline_id: str | None, **fields: object) -> Stamp:
        """The fields of an event of this stage made now (all but the line)."""
        child = self.child
        launch = self.launch
        return Stamp(
            phase=phase, run_id=self.run_id, pipeline_id=pipeline_id, stage_index=self.index,
            program=self.cmd.program, argv=self.cmd.argv, cwd=self.ctx.cwd,
            pid=child.pid if child else None, time=time.monotonic(), tags=self.ctx.tags,
            unsafe=self.cmd.unsafe, host=launch.host, remote_pgid=launch.remote_pgid,
            **fields,  # pyright: ignore[reportArgumentType]
        )  # fmt: skip

    def event(self, phase: EventPhase, pipeline_id: str | None, **fields: object) -> ExecEvent:
        """Build an event of this stage (not a line event: see `stamp`)."""
        return line_event(self.stamp(phase, pipeline_id, **fields), None)

    def end(self, *, downstream_done: bool = False) -> StageEnd:
        """How the stage ended, by the failure policy."""
        return classify(
            self.child, self.ok_codes, last=self.last,
            downstream_done=downstream_done or self.reader_left,
        )  # fmt: skip

    def build_result(
        self,
        encoding: str,
        errors: str,
        *,
        downstream_done: bool = False,
        stderr: Capture | None = None,
        timed_out: bool = False,
    ) -> CommandResult:
        """Make the stage's `CommandResult` from what was read so far.

        ``stderr`` replaces the wiring's capture (``lines()`` reads it from
        a file).
        """
        child = self.child
        duration = 0.0
        if child is not None:
            duration = (child.exited_at or time.monotonic()) - child.started_at
        wiring = self.wiring
        out = wiring.stdout if wiring is not None else None
        err = stderr if stderr is not None else wiring.stderr if wiring is not None else None
        return CommandResult(
            program=self.cmd.program, argv=self.cmd.argv, pid=child.pid if child else None,
            exit_code=child.returncode if child else None,
            stdout_bytes=out.getvalue() if out is not None else None,
            stderr_bytes=err.getvalue() if err is not None else None,
            duration=duration, encoding=encoding, errors=errors,
            ok=self.end(downstream_done=downstream_done).ok,
            truncated=any(c is not None and c.truncated for c in (out, err)),
            host=self.launch.host, timed_out=timed_out,
        )  # fmt: skip
