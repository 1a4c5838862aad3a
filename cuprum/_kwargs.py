"""Typed keyword arguments: what ``**options`` may hold, for type checkers.

Runtime checks stay where they are (`RunOptions.build`, `ExecutionContext`);
these `TypedDict` s only name the keywords so that a call like
``cmd.run_sync(timeout=5)`` is checked and completed by an editor.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, TypedDict

if TYPE_CHECKING:
    from ._context import ExecutionContext, Local
    from ._options import Output, Stdin
    from ._transport import Transport

__all__ = ["ConcurrentKwargs", "ContextKwargs", "OutputKwargs", "RunKwargs"]


class OutputKwargs(TypedDict, total=False):
    """Where output goes and what counts as success: keywords of `SafeCmd.run`.

    `Pipeline.run` takes these through ``**options``; see `SafeCmd.run` for
    what each means.
    """

    stdout: Output
    stderr: Output
    append: bool
    ok_codes: Iterable[int] | None
    max_output: int | None
    encoding: str
    errors: str


class ConcurrentKwargs(OutputKwargs, total=False):
    """The keywords `run_concurrent` passes on to every ``run``."""

    echo: bool
    stdin: Stdin
    context: ExecutionContext | None
    timeout: float | None


class RunKwargs(ConcurrentKwargs, total=False):
    """Every keyword of `SafeCmd.run`, as ``run_sync`` takes them."""

    capture: bool
    check: bool


class ContextKwargs(TypedDict, total=False):
    """The fields of `ExecutionContext`, as `SafeCmd.with_context` takes them."""

    env: Mapping[str, str | None] | None
    cwd: str | os.PathLike[str] | None
    timeout: float | None
    cancel_grace: float | None
    tags: Mapping[str, str] | None
    host: Transport | Local | None
    keep_background: bool
