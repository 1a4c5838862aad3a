"""The value a listener gets: `ExecEvent`, and the fields events share (`Stamp`).

A run can emit millions of line events, so an event is two references: its
line and a `Stamp` holding every other field. The lines of one read share
one stamp (one phase, one `time.monotonic()`), and `line_event` makes an
event without running any Python code of its own. To its reader an
`ExecEvent` still behaves as the frozen dataclass it was: the same fields,
keyword constructor, equality, ``repr``, pickling, and `dataclasses`
functions (`dataclasses.fields`, `~dataclasses.replace`, `~dataclasses.asdict`).
"""

from __future__ import annotations

import dataclasses
import signal
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any, ClassVar, cast, final

__all__ = ["EventPhase", "ExecEvent", "Stamp", "line_event"]


class EventPhase(StrEnum):
    """The moments of a run that produce an `ExecEvent`."""

    PLAN = "plan"
    START = "start"
    STDOUT = "stdout"
    STDERR = "stderr"
    EXIT = "exit"
    TIMEOUT = "timeout"
    CANCEL = "cancel"


@final
@dataclasses.dataclass(slots=True, kw_only=True)
class Stamp:
    """Every field of an event but its line, shared by the events made at one moment.

    Its dataclass fields are `ExecEvent`'s, in order (``line`` included,
    unused here): `dataclasses.fields` of an event reads them.
    """

    phase: EventPhase
    run_id: str
    pipeline_id: str | None
    stage_index: int
    program: str
    argv: tuple[str, ...]
    cwd: str | None
    pid: int | None
    time: float
    line: str | None = None
    exit_code: int | None = None
    duration: float | None = None
    tags: Mapping[str, str]
    unsafe: bool = False
    ok: bool | None = None
    bytes_out: int | None = None
    host: str | None = None
    remote_pgid: int | None = None


_FIELDS = tuple(f.name for f in dataclasses.fields(Stamp))


@final
class ExecEvent:
    """Something that happened to one run (or one stage of a pipeline).

    A run's events arrive as ``plan``, ``start``, output lines, then exactly
    one of ``exit``, ``timeout`` or ``cancel``, last. Events are frozen.

    Attributes
    ----------
    phase : EventPhase
        What happened.
    run_id : str
        Shared by every event of one run (one stage, for pipelines).
    pipeline_id : str | None
        Shared by the stages of one pipeline; None for a single command.
    stage_index : int
        Position of the stage in its pipeline (0 for a single command).
    program : str
        The program as named in the command.
    argv : tuple[str, ...]
        The full argv.
    cwd : str | None
        The working directory the child gets (None: the parent's).
    pid : int | None
        The child's pid once started.
    time : float
        `time.monotonic()` when the event was made (for line events: when
        the output that holds the line was read).
    line : str | None
        For ``stdout`` and ``stderr``: one decoded line without its newline.
    exit_code : int | None
        For ``exit`` (and ``timeout``/``cancel`` once reaped).
    duration : float | None
        Seconds since start, for the last event.
    tags : Mapping[str, str]
        The run's tags.
    unsafe : bool
        True for commands built with `cuprum.unsafe.dynamic`.
    ok : bool | None
        For the last event of a run: whether it counts as success (its
        exit code is an ok code, or an excused SIGPIPE); None before.
    bytes_out : int | None
        For the last event of a pipeline stage: the bytes of its stdout
        that cuprum pumped to the next stage (None for the last stage and
        single commands).
    host : str | None
        The remote host (the `cuprum.remote.SSHHost` destination), None for
        local runs. ``pid`` is then the host's ControlMaster's, the local
        process that carries the session (an ``ssh`` client's with
        ``CUPRUM_REMOTE_CLIENT=ssh``).
    remote_pgid : int | None
        The remote command's process group, once its wrapper reported it
        (None for local runs and before).
    """

    __slots__ = ("_line", "_stamp")
    __match_args__ = ()
    _line: str | None
    _stamp: Stamp
    # The dataclass protocol, so `dataclasses.fields`, `replace` and `asdict` work.
    __dataclass_fields__: ClassVar[dict[str, dataclasses.Field[Any]]] = Stamp.__dataclass_fields__

    def __init__(
        self,
        *,
        phase: EventPhase,
        run_id: str,
        pipeline_id: str | None,
        stage_index: int,
        program: str,
        argv: tuple[str, ...],
        cwd: str | None,
        pid: int | None,
        time: float,
        line: str | None = None,
        exit_code: int | None = None,
        duration: float | None = None,
        tags: Mapping[str, str],
        unsafe: bool = False,
        ok: bool | None = None,
        bytes_out: int | None = None,
        host: str | None = None,
        remote_pgid: int | None = None,
    ) -> None:
        stamp = Stamp(
            phase=phase, run_id=run_id, pipeline_id=pipeline_id, stage_index=stage_index,
            program=program, argv=argv, cwd=cwd, pid=pid, time=time, exit_code=exit_code,
            duration=duration, tags=tags, unsafe=unsafe, ok=ok, bytes_out=bytes_out,
            host=host, remote_pgid=remote_pgid,
        )  # fmt: skip
        _set_stamp(self, stamp)
        _set_line(self, line)

    @property
    def phase(self) -> EventPhase:
        """What happened."""
        return self._stamp.phase

    @property
    def run_id(self) -> str:
        """Shared by every event of one run (one stage, for pipelines)."""
        return self._stamp.run_id

    @property
    def pipeline_id(self) -> str | None:
        """Shared by the stages of one pipeline; None for a single command."""
        return self._stamp.pipeline_id

    @property
    def stage_index(self) -> int:
        """Position of the stage in its pipeline (0 for a single command)."""
        return self._stamp.stage_index

    @property
    def program(self) -> str:
        """The program as named in the command."""
        return self._stamp.program

    @property
    def argv(self) -> tuple[str, ...]:
        """The full argv."""
        return self._stamp.argv

    @property
    def cwd(self) -> str | None:
        """The working directory the child gets (None: the parent's)."""
        return self._stamp.cwd

    @property
    def pid(self) -> int | None:
        """The child's pid once started."""
        return self._stamp.pid

    @property
    def time(self) -> float:
        """`time.monotonic()` when the event was made."""
        return self._stamp.time

    @property
    def line(self) -> str | None:
        """For ``stdout`` and ``stderr``: one decoded line without its newline."""
        return self._line

    @property
    def exit_code(self) -> int | None:
        """For ``exit`` (and ``timeout``/``cancel`` once reaped)."""
        return self._stamp.exit_code

    @property
    def duration(self) -> float | None:
        """Seconds since start, for the last event."""
        return self._stamp.duration

    @property
    def tags(self) -> Mapping[str, str]:
        """The run's tags."""
        return self._stamp.tags

    @property
    def unsafe(self) -> bool:
        """True for commands built with `cuprum.unsafe.dynamic`."""
        return self._stamp.unsafe

    @property
    def ok(self) -> bool | None:
        """For the last event of a run: whether it counts as success; None before."""
        return self._stamp.ok

    @property
    def bytes_out(self) -> int | None:
        """For the last event of a pipeline stage: the bytes pumped to the next stage."""
        return self._stamp.bytes_out

    @property
    def host(self) -> str | None:
        """The remote host, None for local runs."""
        return self._stamp.host

    @property
    def remote_pgid(self) -> int | None:
        """The remote command's process group, once reported (None for local runs)."""
        return self._stamp.remote_pgid

    @property
    def outcome(self) -> str | None:
        """How the run ended, for its last event; None for earlier events.

        Returns
        -------
        str | None
            ``"ok"``, ``"failed"``, ``"timeout"`` or ``"cancelled"``. An
            ``exit`` event is ``"ok"`` when `ok` is true (an ok code, or a
            non-last stage ended by SIGPIPE).
        """
        match self.phase:
            case EventPhase.TIMEOUT:
                return "timeout"
            case EventPhase.CANCEL:
                return "cancelled"
            case EventPhase.EXIT:
                if self.ok is not None:
                    return "ok" if self.ok else "failed"
                # An event made without `ok` (by hand): judge by the code.
                code = self.exit_code
                excused = code == -signal.SIGPIPE and self.bytes_out is not None
                return "ok" if code == 0 or excused else "failed"
            case _:
                return None

    def _values(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in _FIELDS)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not ExecEvent:
            return NotImplemented
        return self._values() == cast("ExecEvent", other)._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        pairs = zip(_FIELDS, self._values(), strict=True)
        shown = ", ".join(f"{name}={value!r}" for name, value in pairs)
        return f"ExecEvent({shown})"

    def __setattr__(self, name: str, value: object) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")

    def __reduce__(self) -> tuple[Callable[..., ExecEvent], tuple[object, ...]]:
        return _rebuild, (self._values(),)


def _rebuild(values: tuple[Any, ...]) -> ExecEvent:
    return ExecEvent(**dict(zip(_FIELDS, values, strict=True)))


# The slots' own setters: they bypass the frozen `__setattr__`.
_set_stamp = cast("Callable[[ExecEvent, Stamp], None]", ExecEvent.__dict__["_stamp"].__set__)
_set_line = cast("Callable[[ExecEvent, str | None], None]", ExecEvent.__dict__["_line"].__set__)
_new = object.__new__


def line_event(stamp: Stamp, line: str | None) -> ExecEvent:
    """Make the event of one line (or a lineless one) from its stamp."""
    event = _new(ExecEvent)
    _set_stamp(event, stamp)
    _set_line(event, line)
    return event
