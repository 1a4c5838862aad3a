"""Structured stdlib logging of cuprum runs.

One record per start and one per end (``exit``, ``timeout`` or ``cancel``)
of each run, or of each stage of a pipeline. The details travel in the
record's ``extra`` fields, so a structured formatter (JSON, logfmt) can
emit them as they are:

- ``cuprum_phase``: ``"start"``, ``"exit"``, ``"timeout"`` or ``"cancel"``;
- ``cuprum_program``: the program as named in the command;
- ``cuprum_argv``: the full argv, a list of str;
- ``cuprum_cwd``: the child's working directory (None: the parent's);
- ``cuprum_pid``: the child's pid;
- ``cuprum_run_id``: shared by the records of one run (one stage);
- ``cuprum_pipeline_id``: shared by the stages of a pipeline (else None);
- ``cuprum_stage_index``: the stage's position in its pipeline (0 alone);
- ``cuprum_tags``: the run's tags, a dict;
- ``cuprum_unsafe``: True for commands built with `cuprum.unsafe.dynamic`;
- ``cuprum_host``: the remote host, None for local runs;
- ``cuprum_remote_pgid``: the remote command's process group, once known
  (None for local runs);
- ``cuprum_exit_code``: end records, the exit code (negative: a signal);
- ``cuprum_duration``: end records, seconds since the start;
- ``cuprum_outcome``: end records, ``ok``, ``failed``, ``timeout`` or
  ``cancelled``;
- ``cuprum_bytes_out``: end records of a non-last pipeline stage, the
  bytes of its stdout pumped to the next stage.

Starts, successful exits and cancellations are logged at ``level``
(INFO by default); failed exits and timeouts at ``failure_level``
(WARNING by default). Output lines are not logged.

Examples
--------
>>> import logging
>>> from cuprum.adapters import logging as cuprum_logging
>>> handle = cuprum_logging.install(logging.getLogger("myapp.commands"))
>>> handle.detach()
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, final

from cuprum import EventPhase, ExecEvent, sh

if TYPE_CHECKING:
    from cuprum import HookHandle

__all__ = ["LoggingListener", "install"]


@final
class LoggingListener:
    """A `sh.observe` listener that logs the start and end of every run.

    Parameters
    ----------
    logger : logging.Logger | None
        Where records go; default ``logging.getLogger("cuprum")``.
    level : int
        Level of start records, successful exits and cancellations.
    failure_level : int
        Level of failed exits and timeouts.

    Examples
    --------
    >>> from cuprum import sh
    >>> from cuprum.adapters.logging import LoggingListener
    >>> with sh.observe(LoggingListener()):
    ...     pass  # runs here are logged
    """

    __slots__ = ("failure_level", "level", "logger")

    def __init__(
        self,
        logger: logging.Logger | None = None,
        *,
        level: int = logging.INFO,
        failure_level: int = logging.WARNING,
    ) -> None:
        self.logger: logging.Logger = logger if logger is not None else logging.getLogger("cuprum")
        self.level: int = level
        self.failure_level: int = failure_level

    def __call__(self, event: ExecEvent) -> None:
        """Log ``event`` if it is a start or an end; ignore the others."""
        if event.phase is EventPhase.START:
            if self.logger.isEnabledFor(self.level):
                self.logger.log(
                    self.level,
                    "%s started (pid %s)",
                    event.program,
                    event.pid,
                    extra=_extra(event),
                )
            return
        outcome = event.outcome
        if outcome is None:
            return
        level = self.failure_level if outcome in ("failed", "timeout") else self.level
        if not self.logger.isEnabledFor(level):
            return
        extra = _extra(event)
        extra.update(
            cuprum_exit_code=event.exit_code,
            cuprum_duration=event.duration,
            cuprum_outcome=outcome,
            cuprum_bytes_out=event.bytes_out,
        )
        duration = event.duration if event.duration is not None else 0.0
        if event.phase is EventPhase.EXIT:
            message = "%s exited with %s after %.3f s"
            args: tuple[object, ...] = (event.program, event.exit_code, duration)
        elif event.phase is EventPhase.TIMEOUT:
            message = "%s timed out after %.3f s (exit code %s)"
            args = (event.program, duration, event.exit_code)
        else:
            message = "%s cancelled after %.3f s (exit code %s)"
            args = (event.program, duration, event.exit_code)
        self.logger.log(level, message, *args, extra=extra)


def _extra(event: ExecEvent) -> dict[str, Any]:
    return {
        "cuprum_phase": event.phase.value,
        "cuprum_program": event.program,
        "cuprum_argv": list(event.argv),
        "cuprum_cwd": event.cwd,
        "cuprum_pid": event.pid,
        "cuprum_run_id": event.run_id,
        "cuprum_pipeline_id": event.pipeline_id,
        "cuprum_stage_index": event.stage_index,
        "cuprum_tags": dict(event.tags),
        "cuprum_unsafe": event.unsafe,
        "cuprum_host": event.host,
        "cuprum_remote_pgid": event.remote_pgid,
    }


def install(
    logger: logging.Logger | None = None,
    *,
    level: int = logging.INFO,
    failure_level: int = logging.WARNING,
) -> HookHandle:
    """Log the runs of the current scope (all runs, outside any `sh.scoped`).

    Parameters
    ----------
    logger : logging.Logger | None
        Where records go; default ``logging.getLogger("cuprum")``.
    level : int
        Level of start records, successful exits and cancellations.
    failure_level : int
        Level of failed exits and timeouts.

    Returns
    -------
    HookHandle
        Call ``.detach()``, or use it as a context manager, to stop logging.
    """
    return sh.observe(LoggingListener(logger, level=level, failure_level=failure_level))
