"""The options of one run, checked and normalised before anything spawns."""

from __future__ import annotations

import io
import os
from collections.abc import AsyncIterable, Iterable
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Literal, TypeAlias, final

from anyio.abc import ByteReceiveStream

from ._context import (
    DEFAULT_CANCEL_GRACE,
    ExecutionContext,
    Local,
    check_seconds,
    current_scope,
)

if TYPE_CHECKING:
    from ._transport import Transport

__all__ = ["Output", "ResolvedContext", "RunOptions", "Stdin", "check_ok_codes"]

Stdin: TypeAlias = bytes | str | os.PathLike[str] | ByteReceiveStream | AsyncIterable[bytes] | None
"""What a child reads on stdin."""

Output: TypeAlias = os.PathLike[str] | IO[bytes] | Literal["stdout"] | None
"""Where a child's stdout or stderr goes instead of being captured."""


def check_ok_codes(codes: Iterable[int]) -> frozenset[int]:
    """Return ``codes`` as a frozenset, or raise `TypeError` for a non-int."""
    result = frozenset(codes)
    for code in result:
        if isinstance(code, bool) or not isinstance(code, int):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(f"ok_codes: {code!r} is not an int")
    return result


def _check_output(name: str, value: object) -> None:
    if value is None:
        return
    if value == "stdout":
        if name != "stderr":
            raise ValueError("stdout='stdout' makes no sense; only stderr can merge into stdout")
        return
    if isinstance(value, str):
        raise TypeError(
            f"{name}={value!r}: pass a path as pathlib.Path (a str is ambiguous), "
            "an open binary file, or None"
        )
    if isinstance(value, os.PathLike):
        return
    if isinstance(value, io.TextIOBase):
        raise TypeError(f"{name}: the file must be opened in binary mode")
    if callable(getattr(value, "fileno", None)):
        return
    raise TypeError(
        f"{name}: expected a path, an open binary file or None, got {type(value).__name__}"
    )


def _check_stdin(value: object) -> None:
    if value is None or isinstance(value, (bytes, str, os.PathLike, ByteReceiveStream)):
        return
    if isinstance(value, AsyncIterable):
        return
    if isinstance(value, (bytearray, memoryview)):
        return
    raise TypeError(
        "stdin: expected bytes, str, a path, an anyio ByteReceiveStream, an async "
        f"iterable of bytes or None, got {type(value).__name__}"
    )


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class RunOptions:
    """Everything `SafeCmd.run` and `Pipeline.run` accept, checked."""

    capture: bool = True
    echo: bool = False
    stdin: Stdin = None
    stdout: Output = None
    stderr: Output = None
    append: bool = False
    context: ExecutionContext | None = None
    timeout: float | None = None
    check: bool = False
    ok_codes: frozenset[int] | None = None
    max_output: int | None = None
    encoding: str = "utf-8"
    errors: str = "replace"
    # For `open()`: hand these streams to the caller instead of feeding or
    # capturing them.
    pipe_stdin: bool = False
    pipe_stdout: bool = False
    pipe_stderr: bool = False

    @classmethod
    def build(
        cls,
        *,
        ok_codes: Iterable[int] | None = None,
        pipe_stdin: bool = False,
        pipe_stdout: bool = False,
        pipe_stderr: bool = False,
        **fields: object,
    ) -> RunOptions:
        """Check the arguments of a run and return them as options.

        Raises
        ------
        TypeError, ValueError
            An argument has the wrong type or value; the message names it.
        """
        _check_stdin(fields.get("stdin"))
        _check_output("stdout", fields.get("stdout"))
        _check_output("stderr", fields.get("stderr"))
        max_output = fields.get("max_output")
        if max_output is not None and (
            isinstance(max_output, bool) or not isinstance(max_output, int) or max_output < 0
        ):
            raise ValueError(f"max_output must be a non-negative int, got {max_output!r}")
        check_seconds("timeout", fields.get("timeout"))
        codes = None
        if ok_codes is not None:
            codes = check_ok_codes(ok_codes)
        context = fields.get("context")
        if context is not None and not isinstance(context, ExecutionContext):
            raise TypeError(f"context must be an ExecutionContext, got {type(context).__name__}")
        return cls(
            ok_codes=codes, pipe_stdin=pipe_stdin, pipe_stdout=pipe_stdout,
            pipe_stderr=pipe_stderr, **fields,  # pyright: ignore[reportArgumentType]
        )  # fmt: skip


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class ResolvedContext:
    """The context in force for one stage: scope, then command, then run."""

    env: dict[str, str | None] | None
    cwd: str | None
    timeout: float | None
    cancel_grace: float
    tags: dict[str, str]
    host: Transport | None
    keep_background: bool = False


def resolve_context(
    command: ExecutionContext | None,
    run: ExecutionContext | None,
    timeout: float | None,
    host: Transport | Local | None = None,
) -> ResolvedContext:
    """Apply the precedence: argument, then run context, command, scope.

    For the host, the argument is the command's own (`SafeCmd.on`), which
    wins over every context: a pipeline can mix hosts under one run context.
    `LOCAL` at any level means "here", overriding the levels below it.
    """
    scope = current_scope.get()
    merged: ExecutionContext | None = None
    for level in reversed(list(scope.chain())):
        merged = _lay(merged, level.defaults)
    merged = _lay(_lay(merged, command), run) or _NOTHING_SET
    return ResolvedContext(
        env=dict(merged.env) if merged.env is not None else None,
        cwd=str(merged.cwd) if merged.cwd is not None else None,
        timeout=timeout if timeout is not None else merged.timeout,
        cancel_grace=(
            merged.cancel_grace if merged.cancel_grace is not None else DEFAULT_CANCEL_GRACE
        ),
        tags=dict(merged.tags or {}),
        host=_where(host if host is not None else merged.host),
        keep_background=merged.keep_background,
    )


_NOTHING_SET = ExecutionContext()


def _lay(base: ExecutionContext | None, over: ExecutionContext | None) -> ExecutionContext | None:
    """``over`` laid over ``base``; a level that sets nothing costs no merge."""
    if over is None or (
        over.env is None and over.cwd is None and over.timeout is None
        and over.cancel_grace is None and over.tags is None and over.host is None
        and not over.keep_background
    ):  # fmt: skip
        return base
    return over if base is None else base.merged(over)


def _where(host: Transport | Local | None) -> Transport | None:
    """The resolved host: None (run here) for `LOCAL`."""
    return None if isinstance(host, Local) else host
