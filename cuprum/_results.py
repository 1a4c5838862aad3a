"""What a finished run returns: `CommandResult` and `PipelineResult`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, final

from ._errors import CommandFailed

__all__ = ["CommandResult", "PipelineResult"]


_PENDING: Any = object()
"""Marks output that is decoded on first access."""


@final
@dataclass(frozen=True, slots=True, init=False)
class CommandResult:
    """The outcome of one command (or one stage of a pipeline).

    Output is decoded on first access to `stdout` / `stderr`, so a run
    that only wants the bytes (or nothing) never pays for decoding.

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
    timed_out : bool
        True only in the partial result of a run that ran out of time
        (such a result is never ok).
    """

    program: str
    argv: tuple[str, ...]
    pid: int | None
    exit_code: int | None
    stdout_bytes: bytes | None
    stderr_bytes: bytes | None
    duration: float
    ok: bool
    truncated: bool
    host: str | None
    timed_out: bool
    _text: list[Any] = field(repr=False, compare=False, hash=False)
    _codec: tuple[str, str] = field(repr=False, compare=False, hash=False)

    def __init__(
        self,
        *,
        program: str,
        argv: tuple[str, ...],
        pid: int | None,
        exit_code: int | None,
        stdout: str | None = _PENDING,
        stderr: str | None = _PENDING,
        stdout_bytes: bytes | None = None,
        stderr_bytes: bytes | None = None,
        duration: float = 0.0,
        ok: bool = False,
        truncated: bool = False,
        host: str | None = None,
        timed_out: bool = False,
        encoding: str = "utf-8",
        errors: str = "replace",
    ) -> None:
        setattr_ = object.__setattr__
        setattr_(self, "program", program)
        setattr_(self, "argv", tuple(argv))
        setattr_(self, "pid", pid)
        setattr_(self, "exit_code", exit_code)
        setattr_(self, "stdout_bytes", stdout_bytes)
        setattr_(self, "stderr_bytes", stderr_bytes)
        setattr_(self, "duration", duration)
        setattr_(self, "ok", ok and not timed_out)
        setattr_(self, "truncated", truncated)
        setattr_(self, "host", host)
        setattr_(self, "timed_out", timed_out)
        setattr_(self, "_text", [stdout, stderr])
        setattr_(self, "_codec", (encoding, errors))

    def _decoded(self, index: int, raw: bytes | None) -> str | None:
        text = self._text[index]
        if text is _PENDING:
            text = None if raw is None else raw.decode(*self._codec)
            self._text[index] = text
        return text

    @property
    def stdout(self) -> str | None:
        """The decoded stdout, or None when it was not captured."""
        return self._decoded(0, self.stdout_bytes)

    @property
    def stderr(self) -> str | None:
        """The decoded stderr, or None when it was not captured."""
        return self._decoded(1, self.stderr_bytes)

    def __repr__(self) -> str:
        def size(data: bytes | None) -> str:
            return "None" if data is None else f"<{len(data)} bytes>"

        return (
            f"CommandResult(program={self.program!r}, argv={self.argv!r}, pid={self.pid}, "
            f"exit_code={self.exit_code}, ok={self.ok}, stdout={size(self.stdout_bytes)}, "
            f"stderr={size(self.stderr_bytes)}, duration={self.duration:.6f}, "
            f"truncated={self.truncated})"
        )

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

    @property
    def timed_out(self) -> bool:
        """True in the partial result of a pipeline that ran out of time."""
        return any(stage.timed_out for stage in self.stages)

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
