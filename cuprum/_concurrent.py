"""`run_concurrent`: many commands in one task group, under a limit."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import anyio
from anyio.abc import TaskGroup

from ._commands import SafeCmd
from ._context import current_scope
from ._errors import CommandFailed, unwrap
from ._pipelines import Pipeline
from ._results import CommandResult

__all__ = ["run_concurrent"]


async def run_concurrent(
    cmds: Iterable[SafeCmd],
    *,
    limit: int = 8,
    capture: bool = True,
    fail_fast: bool = False,
    **options: Any,
) -> list[CommandResult]:
    """Run commands concurrently, at most ``limit`` at once, in input order.

    Results that are not ok are included. With ``fail_fast`` the first
    result that is not ok cancels the others (which are terminated and
    reaped) and is raised as `CommandFailed`.

    Parameters
    ----------
    cmds : Iterable[SafeCmd]
        The commands; one object may appear several times.
    limit : int
        The most commands running at once (>= 1).
    capture : bool
        Passed to each `SafeCmd.run`, like the other keyword ``options``.
    fail_fast : bool
        Stop everything at the first failure.

    Returns
    -------
    list[CommandResult]
        One result per command, in the order given.

    Raises
    ------
    CommandFailed
        With ``fail_fast``, for the first command that was not ok.
    ValueError
        If ``limit`` is below 1.
    ForbiddenProgramError
        A program is outside the current scope's allowlist; nothing started.

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
    # The scope decides what may run: refuse before the first one starts.
    current_scope.get().require_allowed(
        stage.program for cmd in commands for stage in _stages_of(cmd)
    )
    results: list[CommandResult | None] = [None] * len(commands)
    limiter = anyio.CapacityLimiter(limit)
    failure: list[CommandResult] = []

    async def one(index: int, cmd: SafeCmd, tg: TaskGroup) -> None:
        async with limiter:
            result = await cmd.run(capture=capture, **options)
        results[index] = result
        if fail_fast and not result.ok and not failure:
            failure.append(result)
            tg.cancel_scope.cancel()

    try:
        async with anyio.create_task_group() as tg:
            for index, cmd in enumerate(commands):
                tg.start_soon(one, index, cmd, tg)
    except BaseExceptionGroup as group:
        raise unwrap(group) from None
    if failure:
        raise CommandFailed(failure[0])
    return [r for r in results if r is not None]


def _stages_of(cmd: SafeCmd | Pipeline) -> tuple[SafeCmd, ...]:
    return cmd.stages if isinstance(cmd, Pipeline) else (cmd,)
