"""`sh`: the entry point that builds commands and scopes their runs."""

from __future__ import annotations

import os
from collections.abc import Generator, Iterable, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, final

from ._catalogue import DEFAULT_CATALOGUE, Program, ProgramCatalogue
from ._commands import CommandBuilder
from ._context import ExecutionContext, Local, Scope, current_scope
from ._errors import ForbiddenProgramError
from ._events import AfterHook, BeforeHook, HookHandle, Listener

if TYPE_CHECKING:
    from ._transport import Transport

__all__ = ["sh"]


@final
class _Sh:
    """Build commands (`make`), scope their runs (`scoped`), observe them."""

    __slots__ = ()

    def make(
        self, program: Program | str, *, catalogue: ProgramCatalogue | None = None
    ) -> CommandBuilder:
        """Return a builder for ``program`` after checking it may run.

        Parameters
        ----------
        program : Program | str
            The program, as its catalogue names it.
        catalogue : ProgramCatalogue | None
            The catalogue that must list it. None (the default) means the
            one set by the innermost `scoped` block that sets one, else
            `DEFAULT_CATALOGUE`.

        Raises
        ------
        UnknownProgramError
            The catalogue does not list the program (the message suggests
            the closest names).
        ForbiddenProgramError
            The current `scoped` allowlist excludes it.
        """
        scope = current_scope.get()
        if catalogue is None:
            catalogue = next(
                (s.catalogue for s in scope.chain() if s.catalogue is not None),
                DEFAULT_CATALOGUE,
            )
        catalogue.lookup(program)
        if not scope.is_allowed(program):
            raise ForbiddenProgramError(program)
        return CommandBuilder(Program(program), catalogue)

    @contextmanager
    def scoped(
        self,
        allowlist: Iterable[Program | str] | None = None,
        timeout: float | None = None,
        env: Mapping[str, str | None] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        tags: Mapping[str, str] | None = None,
        *,
        host: Transport | Local | None = None,
        cancel_grace: float | None = None,
        catalogue: ProgramCatalogue | None = None,
    ) -> Generator[None]:
        """Narrow the allowlist and set defaults for the runs inside the block.

        An inner allowlist is intersected with the outer ones, so a scope
        never widens what may run. It is checked by `make`, and again when
        a command or pipeline is run, opened, streamed or handed to
        `run_concurrent` inside the block (before anything is spawned or
        any stdin read), however early the command was built: the scope
        decides what may run. After-hooks of nested scopes unwind inner
        scope first. The scope lives in a `ContextVar`: tasks
        started inside the block inherit it, sibling tasks do not. With
        ``host`` (a `cuprum.remote.SSHHost`), the commands of the block run
        on that host unless a command says otherwise (`SafeCmd.on`);
        `cuprum.remote.LOCAL` brings an inner block back to this machine.

        Parameters
        ----------
        allowlist : Iterable[Program | str] | None
            The programs that may run inside the block (None: no narrowing).
        timeout : float | None
            Default timeout for the runs of the block, as in `ExecutionContext`.
        env : Mapping[str, str | None] | None
            Environment overlay, merged key by key with the outer scopes'.
        cwd : str | os.PathLike[str] | None
            Default working directory for the runs of the block.
        tags : Mapping[str, str] | None
            Tags for the runs' events, merged key by key with the outer scopes'.
        host : Transport | Local | None
            Where the runs of the block go by default (see above).
        cancel_grace : float | None
            Default grace between SIGTERM and SIGKILL, as in `ExecutionContext`.
        catalogue : ProgramCatalogue | None
            The catalogue `make` uses inside the block when given none (an
            inner block's wins; None: the outer one's, in the end
            `DEFAULT_CATALOGUE`). The allowlist still applies to it.

        Raises
        ------
        TypeError
            ``catalogue`` is not a `ProgramCatalogue`, or a default has the
            wrong type.
        ValueError
            A default is invalid (a negative timeout, a bad variable name).
        """
        if catalogue is not None and not isinstance(catalogue, ProgramCatalogue):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(f"catalogue must be a ProgramCatalogue, got {type(catalogue).__name__}")
        outer = current_scope.get()
        scope = Scope(
            parent=outer,
            allowlist=frozenset(Program(p) for p in allowlist) if allowlist is not None else None,
            defaults=ExecutionContext(
                env=env,
                cwd=cwd,
                timeout=timeout,
                tags=tags,
                cancel_grace=cancel_grace,
                host=host,
            ),
            catalogue=catalogue,
        )
        token = current_scope.set(scope)
        try:
            yield
        finally:
            current_scope.reset(token)

    def before(self, hook: BeforeHook) -> HookHandle:
        """Call ``hook(cmd)`` (sync or async) before each command of this scope starts.

        An exception from the hook reaches the caller and nothing is spawned.
        """
        return HookHandle(current_scope.get().before, hook)

    def after(self, hook: AfterHook) -> HookHandle:
        """Call ``hook(cmd, result)`` (sync or async) after each command of this scope."""
        return HookHandle(current_scope.get().after, hook)

    def observe(self, listener: Listener) -> HookHandle:
        """Deliver every `ExecEvent` of this scope's runs to ``listener``.

        Use the handle as a context manager, or call ``.detach()``.
        """
        return HookHandle(current_scope.get().observers, listener)


sh: _Sh = _Sh()
"""Build commands: ``sh.make(ECHO)("hello")``."""
