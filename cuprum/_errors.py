"""The one error tree of cuprum.

Every error cuprum raises on its own account derives from `CuprumError`, and
each also inherits the built-in type an ordinary ``except`` clause would look
for:

```text
CuprumError
├── UnknownProgramError      (LookupError)   program not in the catalogue
├── ForbiddenProgramError    (PermissionError) outside the scope's allowlist
├── ProgramNotFoundError     (FileNotFoundError) not found on the search path
├── StreamBackendUnavailable (RuntimeError)  CUPRUM_STREAM_BACKEND=rust, no extension
├── RemoteConnectionError    (ConnectionError) ssh could not connect, authenticate
│                                             or verify the host key
├── CommandFailed                            a run that was not ok, with its result
└── TimeoutExpired           (TimeoutError)  a run that ran out of time, with its
                                             partial result
```

Where a built-in type is the natural one, cuprum raises it directly:
`TypeError` and `ValueError` for bad arguments, `FileNotFoundError` and
`NotADirectoryError` for a bad ``cwd``, `PermissionError` for a program that
is found but cannot be executed. Errors always reach the caller as
themselves, never wrapped in an `ExceptionGroup`.
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, final

import anyio

if TYPE_CHECKING:
    from collections.abc import Iterable

    from typing_extensions import TypeIs

    from ._results import CommandResult, PipelineResult

__all__ = [
    "CommandFailed",
    "CuprumError",
    "ForbiddenProgramError",
    "ProgramNotFoundError",
    "RemoteConnectionError",
    "StreamBackendUnavailable",
    "TimeoutExpired",
    "UnknownProgramError",
    "unwrap",
]


class CuprumError(Exception):
    """Base class of every error cuprum raises on its own account."""


@final
class UnknownProgramError(CuprumError, LookupError):
    """A program is not in the catalogue used to build the command.

    Attributes
    ----------
    program : str
        The program that was asked for.
    projects : tuple[str, ...]
        The names of the catalogue's projects.
    suggestions : tuple[str, ...]
        The catalogue's closest names, best first (may be empty).
    """

    def __init__(
        self, program: str, projects: Iterable[str], *, suggestions: Iterable[str] = ()
    ) -> None:
        self.program = program
        self.projects: tuple[str, ...] = tuple(projects)
        self.suggestions: tuple[str, ...] = tuple(suggestions)
        names = ", ".join(self.projects) or "(none)"
        message = f"program {program!r} is not in the catalogue (projects: {names})"
        if self.suggestions:
            quoted = [repr(name) for name in self.suggestions]
            if len(quoted) > 1:
                quoted[-2:] = [f"{quoted[-2]} or {quoted[-1]}"]
            message += f"; did you mean {', '.join(quoted)}?"
        super().__init__(message)


@final
class ForbiddenProgramError(CuprumError, PermissionError):
    """A program is outside the allowlist of the current `sh.scoped` scope.

    Attributes
    ----------
    program : str
        The program that was refused.
    """

    def __init__(self, program: str) -> None:
        self.program = program
        super().__init__(f"program {program!r} is not allowed in the current scope")


@final
class ProgramNotFoundError(CuprumError, FileNotFoundError):
    """An executable cannot be found on the search path, or cannot start.

    Attributes
    ----------
    program : str
        The program as given.
    path : str | None
        The search path (``PATH``) that was used, or None for a path name.
    host : str | None
        The remote host, None for local runs.
    reason : str | None
        Why a program that was found cannot start (a ``#!`` interpreter
        that does not exist), None when it was not found.
    """

    def __init__(
        self, program: str, path: str | None, *, host: str | None = None, reason: str | None = None
    ) -> None:
        self.program = program
        self.path = path
        self.host = host
        self.reason = reason
        where = f" on {host}" if host else ""
        if reason is not None:
            message = f"program {program!r} cannot start{where}: {reason}"
        elif path is None:
            message = f"program {program!r} does not exist{where}"
        else:
            message = f"program {program!r} not found{where} in PATH={path!r}"
        super().__init__(message)
        self.message = message
        self.filename = program

    def __str__(self) -> str:
        # OSError's own str() would show "[Errno None] None: ..." once
        # filename is set; the message says it all.
        return self.message


@final
class StreamBackendUnavailable(CuprumError, RuntimeError):
    """The Rust stream backend was requested but the extension is absent."""


@final
class RemoteConnectionError(CuprumError, ConnectionError):
    """OpenSSH could not reach a host, log in, or verify its host key.

    Raised when a `cuprum.remote.SSHHost` starts its connection, and when a
    remote command's ``ssh`` exits with 255 without the command having
    reported an exit status (the connection was lost or refused).

    Attributes
    ----------
    host : str
        The destination, as given to `SSHHost`.
    ssh_message : str
        What ``ssh`` printed on stderr (may be empty).
    """

    def __init__(self, host: str, ssh_message: str, *, what: str = "cannot connect to") -> None:
        self.host = host
        self.ssh_message: str = ssh_message.strip()
        reason = self.ssh_message or "ssh gave no reason"
        super().__init__(f"{what} {host}: {reason}")


class CommandFailed(CuprumError):
    """A command or pipeline finished without success.

    The message names the command's argv (shell-quoted, shortened when
    long), its exit code and the last lines of its stderr; for a pipeline,
    the stage that failed on its own.

    Attributes
    ----------
    result : CommandResult | PipelineResult
        The full result, with the captured output.
    """

    def __init__(self, result: CommandResult | PipelineResult) -> None:
        self.result = result
        super().__init__(_describe_failure(result))


@final
class TimeoutExpired(CuprumError, TimeoutError):
    """A command or pipeline ran longer than its timeout.

    The children were terminated (SIGTERM, then SIGKILL after the grace
    period) and reaped before this was raised.

    Attributes
    ----------
    result : CommandResult | PipelineResult
        The partial result: the output read before the timeout.
    timeout : float
        The timeout in seconds.
    """

    def __init__(self, result: CommandResult | PipelineResult, timeout: float) -> None:
        self.result = result
        self.timeout = timeout
        super().__init__(f"{_describe(result)} timed out after {timeout:g} s")


def _is_pipeline(result: CommandResult | PipelineResult) -> TypeIs[PipelineResult]:
    # Told apart by shape: the results module sits above this one.
    return hasattr(result, "stages")


def _describe(result: CommandResult | PipelineResult) -> str:
    if not _is_pipeline(result):
        return f"command {result.program!r}"
    programs = " | ".join(stage.program for stage in result.stages)
    return f"pipeline {programs!r}"


_ARGV_SHOWN = 120  # characters of a shell-quoted argv kept in a message


def _quoted(argv: tuple[str, ...]) -> str:
    text = shlex.join(argv)
    if len(text) > _ARGV_SHOWN:
        text = text[: _ARGV_SHOWN - 3] + "..."
    return repr(text)


def _describe_failure(result: CommandResult | PipelineResult) -> str:
    if _is_pipeline(result):
        stage = result.failure
        if stage is None:
            return f"{_describe(result)} failed"
        text = (
            f"{_describe(result)} failed: stage {result.failure_index} "
            f"{_quoted(stage.argv)} exited with {stage.exit_code}"
        )
    else:
        stage = result
        text = f"command {_quoted(stage.argv)} exited with {stage.exit_code}"
    if stage.stderr:
        tail = stage.stderr.strip().splitlines()[-3:]
        text += "; stderr: " + " / ".join(tail)
    return text


def unwrap(exc: BaseException) -> BaseException:
    """Return the one meaningful error of a task group's exception group.

    The loop's cancellation exceptions are skipped when anything else is
    there; they are never converted.
    """
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
