"""What a finished run returns: `CommandResult` and `PipelineResult`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import final

from ._errors import CommandFailed

__all__ = ["CommandResult", "PipelineResult"]


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class CommandResult:
    """The outcome of one command (or one stage of a pipeline).

    Attributes
    ----------
    program : str
        The program as named in the command.
    argv : tuple[str, ...]
        The full argv that was executed.
    pid : int | None
        The child's pid (None if it never started).
    exit_code : int | None
        The exit status; a negative signal number when a signal killed it,
        as in `subprocess`. None only if the child was never started.
    stdout, stderr : str | None
        Decoded output, or None when the stream was not captured.
    stdout_bytes, stderr_bytes : bytes | None
        The exact bytes, or None when the stream was not captured.
    duration : float
        Seconds from start to exit.
    ok : bool
        True when the exit code is one of the command's ok codes.
    truncated : bool
        True when ``max_output`` dropped bytes of a captured stream.
    host : str | None
        The remote host, None for local runs.
    """

    program: str
    argv: tuple[str, ...]
    pid: int | None
    exit_code: int | None
    stdout: str | None = None
    stderr: str | None = None
    stdout_bytes: bytes | None = None
    stderr_bytes: bytes | None = None
    duration: float = 0.0
    ok: bool = False
    truncated: bool = False
    host: str | None = None

    def check(self) -> CommandResult:
        """Return ``self`` when ok, else raise `CommandFailed`.

        Raises
        ------
        CommandFailed
            If the exit code is not an ok code; ``.result`` is this result.
        """
        if not self.ok:
            raise CommandFailed(self)
        return self


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class PipelineResult:
    """The outcome of a pipeline.

    Attributes
    ----------
    stages : tuple[CommandResult, ...]
        One result per stage, in pipeline order.
    failure : CommandResult | None
        The first stage, in pipeline order, that failed on its own (not one
        cuprum terminated, not an excused SIGPIPE), or None.
    failure_index : int | None
        The index of ``failure`` in ``stages``.
    duration : float
        Seconds from the first start to the last exit.
    ok : bool
        True when no stage failed and the pipeline was not cut short.
    """

    stages: tuple[CommandResult, ...]
    failure: CommandResult | None
    failure_index: int | None
    duration: float
    ok: bool

    @property
    def stdout(self) -> str | None:
        """The last stage's decoded stdout (None when not captured)."""
        return self.stages[-1].stdout if self.stages else None

    @property
    def stdout_bytes(self) -> bytes | None:
        """The last stage's stdout bytes (None when not captured)."""
        return self.stages[-1].stdout_bytes if self.stages else None

    @property
    def truncated(self) -> bool:
        """True when ``max_output`` dropped bytes of any captured stream."""
        return any(stage.truncated for stage in self.stages)

    def check(self) -> PipelineResult:
        """Return ``self`` when ok, else raise `CommandFailed`.

        Raises
        ------
        CommandFailed
            If the pipeline was not ok; ``.result`` is this result.
        """
        if not self.ok:
            raise CommandFailed(self)
        return self
