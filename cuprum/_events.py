"""Execution events, hooks and the handles that register them."""

from __future__ import annotations

import inspect
import itertools
import signal
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Self, final

from ._context import Scope, current_scope

if TYPE_CHECKING:
    from types import TracebackType

    from ._commands import SafeCmd
    from ._results import CommandResult

__all__ = [
    "AfterHook",
    "BeforeHook",
    "EventPhase",
    "ExecEvent",
    "HookHandle",
    "Listener",
]


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
@dataclass(frozen=True, slots=True, kw_only=True)
class ExecEvent:
    """Something that happened to one run (or one stage of a pipeline).

    A run's events arrive as ``plan``, ``start``, output lines, then exactly
    one of ``exit``, ``timeout`` or ``cancel``, last.

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
        `time.monotonic()` when the event was made.
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
        local runs. ``pid`` is then the local ``ssh`` client's.
    remote_pgid : int | None
        The remote command's process group, once its wrapper reported it
        (None for local runs and before).
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


Listener = Callable[[ExecEvent], None | Awaitable[None]]
BeforeHook = Callable[["SafeCmd"], None | Awaitable[None]]
AfterHook = Callable[["SafeCmd", "CommandResult"], None | Awaitable[None]]

_ids = itertools.count(1)


def new_id(prefix: str) -> str:
    """Return a process-unique id such as ``run-17``."""
    return f"{prefix}-{next(_ids)}"


@final
class HookHandle:
    """A registration of a hook or listener on a scope.

    Call `detach` to remove it, or use the handle as a context manager
    (sync or async) to remove it on leaving the block.
    """

    __slots__ = ("_callback", "_registry")

    def __init__(self, registry: list[Any], callback: Any) -> None:
        self._registry = registry
        self._callback = callback
        registry.append(callback)

    def detach(self) -> None:
        """Remove the registration; detaching twice is harmless."""
        try:
            self._registry.remove(self._callback)
        except ValueError:
            pass

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.detach()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.detach()


async def call_maybe_async(callback: Callable[..., Any], *args: Any) -> None:
    """Call a sync or async callback and await it when needed."""
    outcome = callback(*args)
    # A sync callback returns None: skip the (costly) awaitable check.
    if outcome is not None and inspect.isawaitable(outcome):
        await outcome


@final
class Observers:
    """The hooks and listeners in force for one run, collected once."""

    __slots__ = ("after", "before", "listeners")

    def __init__(self, scope: Scope | None = None) -> None:
        scope = scope if scope is not None else current_scope.get()
        before: list[BeforeHook] = []
        after: list[AfterHook] = []
        listeners: list[Listener] = []
        # Before-hooks and listeners: outer scopes first, so a global hook
        # sees a run before a local one. After-hooks unwind inner scope
        # first, as nested context managers do.
        for level in reversed(list(scope.chain())):
            before.extend(level.before)
            listeners.extend(level.observers)
        for level in scope.chain():
            after.extend(level.after)
        self.before = tuple(before)
        self.after = tuple(after)
        self.listeners = tuple(listeners)

    @property
    def listening(self) -> bool:
        """True when some listener wants events (line events included)."""
        return bool(self.listeners)

    async def emit(self, event: ExecEvent) -> None:
        """Deliver ``event`` to every listener, in registration order."""
        for listener in self.listeners:
            outcome = listener(event)
            if outcome is not None and inspect.isawaitable(outcome):
                await outcome
