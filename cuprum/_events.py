"""Execution events, hooks and the handles that register them."""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, Self, final

from ._context import Scope, current_scope
from ._execevent import EventPhase, ExecEvent, Stamp, line_event

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

    async def emit_lines(self, stamp: Stamp, lines: Iterable[str]) -> None:
        """Deliver one event per line, each to every listener; the events share ``stamp``.

        The loop awaits only what a listener returns: with synchronous
        listeners a chunk's lines are delivered without a suspension.
        """
        listeners = self.listeners
        if len(listeners) == 1:
            (listener,) = listeners
            for line in lines:
                outcome = listener(line_event(stamp, line))
                if outcome is not None and inspect.isawaitable(outcome):
                    await outcome
            return
        for line in lines:
            event = line_event(stamp, line)
            for listener in listeners:
                outcome = listener(event)
                if outcome is not None and inspect.isawaitable(outcome):
                    await outcome
