"""`run_concurrent`: many commands in one task group, under a limit."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Unpack, overload

import anyio
from anyio.abc import TaskGroup

from ._commands import SafeCmd
from ._context import ExecutionContext, current_scope
from ._errors import CommandFailed, TimeoutExpired, unwrap
from ._options import resolve_context
from ._pipelines import Pipeline
from ._results import CommandResult, PipelineResult
from ._transport import transport_for

if TYPE_CHECKING:
    from ._kwargs import ConcurrentKwargs

__all__ = ["run_concurrent"]


@overload
async def run_concurrent(
    cmds: Iterable[SafeCmd],
    *,
    limit: int = 8,
    capture: bool = True,
    fail_fast: bool = False,
    **options: Unpack[ConcurrentKwargs],
) -> list[CommandResult]: ...


@overload
async def run_concurrent(
    cmds: Iterable[SafeCmd | Pipeline],
    *,
    limit: int = 8,
    capture: bool = True,
    fail_fast: bool = False,
    **options: Unpack[ConcurrentKwargs],
) -> list[CommandResult | PipelineResult]: ...


async def run_concurrent(
    cmds: Iterable[SafeCmd | Pipeline],
    *,
    limit: int = 8,
    capture: bool = True,
    fail_fast: bool = False,
    **options: Unpack[ConcurrentKwargs],
) -> list[CommandResult] | list[CommandResult | PipelineResult]:
    """Run commands (or pipelines) concurrently, at most ``limit`` at once, in input order.

    Results that are not ok are included; a command that ran out of time is
    there as its partial result, with ``timed_out=True``. With
    ``fail_fast`` the first result that is not ok cancels the others (which
    are terminated and reaped) and is raised.

    Parameters
    ----------
    cmds : Iterable[SafeCmd | Pipeline]
        The commands; one object may appear several times.
    limit : int
        The most commands running at once (>= 1).
    capture : bool
        Passed to each ``run``, like the other keyword ``options``.
    fail_fast : bool
        Stop everything at the first failure.

    Returns
    -------
    list[CommandResult | PipelineResult]
        One result per command, in the order given.

    Raises
    ------
    ForbiddenProgramError
        A program is outside the current scope's allowlist; nothing started.
    ProgramNotFoundError, PermissionError, FileNotFoundError, NotADirectoryError
        A program or working directory of any command is missing or
        unusable: every command is checked before the first starts, so
        nothing started.
    CommandFailed
        With ``fail_fast``, for the first command that was not ok.
    TimeoutExpired
        With ``fail_fast``, when the first command that was not ok ran out
        of time (``.result`` is its partial result).
    ValueError
        If ``limit`` is below 1.

    Cancellation
    ------------
    Cancelling the caller cancels every command; each is terminated and
    reaped as `SafeCmd.run` describes.
    """
    commands = list(cmds)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:  # pyright: ignore[reportUnnecessaryIsInstance]
        raise ValueError(f"limit must be an int >= 1, got {limit!r}")
    if "check" in options:
        raise TypeError("run_concurrent() takes fail_fast, not check")
    _check_all(commands, options)
    results: list[CommandResult | PipelineResult | None] = [None] * len(commands)
    limiter = anyio.CapacityLimiter(limit)
    failure: list[BaseException] = []

    async def one(index: int, cmd: SafeCmd | Pipeline, tg: TaskGroup) -> None:
        async with limiter:
            try:
                result = await cmd.run(capture=capture, **options)
            except TimeoutExpired as exc:
                result, error = exc.result, exc
            else:
                error = CommandFailed(result)
        results[index] = result
        if fail_fast and not result.ok and not failure:
            failure.append(error)
            tg.cancel_scope.cancel()

    try:
        async with anyio.create_task_group() as tg:
            for index, cmd in enumerate(commands):
                tg.start_soon(one, index, cmd, tg)
    except BaseExceptionGroup as group:
        raise unwrap(group) from None
    if failure:
        raise failure[0]
    return [r for r in results if r is not None]


def _check_all(commands: list[SafeCmd | Pipeline], options: ConcurrentKwargs) -> None:
    """Refuse the batch before anything starts: allowlist, programs, working directories."""
    stages = [stage for cmd in commands for stage in _stages_of(cmd)]
    # The scope decides what may run.
    current_scope.get().require_allowed(stage.program for stage in stages)
    context = options.get("context")
    run_context = context if isinstance(context, ExecutionContext) else None
    timeout = options.get("timeout")
    for stage in stages:
        ctx = resolve_context(stage.context, run_context, timeout, stage.host)
        transport_for(ctx.host).check(stage, ctx)


def _stages_of(cmd: SafeCmd | Pipeline) -> tuple[SafeCmd, ...]:
    return cmd.stages if isinstance(cmd, Pipeline) else (cmd,)
