"""Execution contexts and the scope stack behind `sh.scoped`.

The current scope lives in a `ContextVar`, so it follows the tasks started
inside it on asyncio and trio alike and never leaks into sibling tasks.
"""

from __future__ import annotations

import contextvars
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, final

from ._errors import ForbiddenProgramError

if TYPE_CHECKING:
    from ._catalogue import Program, ProgramCatalogue
    from ._transport import Transport

__all__ = ["ExecutionContext", "check_seconds"]

DEFAULT_CANCEL_GRACE = 1.0


@final
class Local:
    """The type of `cuprum.remote.LOCAL`: "run here", where None means "inherit"."""

    __slots__ = ()
    _instance: Local | None = None

    def __new__(cls) -> Local:
        # One value only: hosts are compared with `is`.
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "cuprum.remote.LOCAL"

    def __reduce__(self) -> str:
        return "LOCAL"


LOCAL = Local()
"""Run on this machine, whatever host an outer scope or context names."""


def check_seconds(name: str, value: object) -> None:
    """Refuse a duration that is not a number (`TypeError`) or is negative (`ValueError`)."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, got {type(value).__name__}")
    if not value >= 0:
        raise ValueError(f"{name} must be a non-negative number, got {value!r}")


def _freeze_env(
    env: Mapping[str, str | None] | None,
) -> Mapping[str, str | None] | None:
    if env is None:
        return None
    frozen: dict[str, str | None] = {}
    for key, value in env.items():
        if not isinstance(key, str) or not key:  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(f"env: variable names must be non-empty str, got {key!r}")
        if "=" in key or "\0" in key:
            raise ValueError(f"env: invalid variable name {key!r} (contains '=' or NUL)")
        if value is not None:
            if not isinstance(value, str):  # pyright: ignore[reportUnnecessaryIsInstance]
                raise TypeError(
                    f"env: value of {key!r} must be str or None, got {type(value).__name__}"
                )
            if "\0" in value:
                raise ValueError(f"env: value of {key!r} contains a NUL byte")
        frozen[key] = value
    return _FrozenMap(frozen)


@final
class _FrozenMap(Mapping[str, Any]):
    """A read-only, hashable mapping for context fields."""

    __slots__ = ("_data", "_hash")

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = dict(data)
        self._hash: int | None = None

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._data.items()))
        return self._hash

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return self._data == dict(other)  # pyright: ignore[reportUnknownArgumentType]
        return NotImplemented

    def __repr__(self) -> str:
        return repr(self._data)


@final
@dataclass(frozen=True, slots=True)
class ExecutionContext:
    """Where and how a command runs.

    Every field is optional; None means "inherit" (from the command's own
    context, then the current `sh.scoped` scope, then cuprum's defaults).

    Parameters
    ----------
    env : Mapping[str, str | None] | None
        Variables laid over the parent's environment; a value of None
        removes the variable.
    cwd : str | os.PathLike[str] | None
        Working directory; it must exist (checked before spawning).
    timeout : float | None
        Seconds before the run is terminated and `TimeoutExpired` raised.
    cancel_grace : float | None
        Seconds between SIGTERM and SIGKILL (default 1 s).
    tags : Mapping[str, str] | None
        Free-form labels carried into every event of the run.
    host : cuprum.remote.SSHHost | cuprum.remote.LOCAL | None
        Run on this remote host (``env`` and ``cwd`` then apply there);
        `cuprum.remote.LOCAL` runs here although an outer level names a host.
    keep_background : bool
        Leave what is left of a command's process group running when its
        direct child exits (background jobs are then the caller's). By
        default they are terminated (SIGTERM, then SIGKILL after
        ``cancel_grace``) before the run returns. True at any level wins.
    """

    env: Mapping[str, str | None] | None = None
    cwd: str | os.PathLike[str] | None = None
    timeout: float | None = None
    cancel_grace: float | None = None
    tags: Mapping[str, str] | None = None
    host: Transport | Local | None = None
    keep_background: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "env", _freeze_env(self.env))
        if self.tags is not None:
            object.__setattr__(self, "tags", _FrozenMap(dict(self.tags)))
        if self.cwd is not None:
            object.__setattr__(self, "cwd", os.fspath(self.cwd))
        for name in ("timeout", "cancel_grace"):
            check_seconds(name, getattr(self, name))

    def __hash__(self) -> int:
        return hash(
            (self.env, self.cwd, self.timeout, self.cancel_grace, self.tags, id(self.host),
             self.keep_background)
        )  # fmt: skip

    def merged(self, override: ExecutionContext | None) -> ExecutionContext:
        """Return this context with the fields set in ``override`` laid over it.

        ``env`` and ``tags`` are merged key by key (``override`` wins);
        the other fields are replaced when ``override`` sets them.
        """
        if override is None:
            return self
        env: dict[str, str | None] | None = None
        if self.env is not None or override.env is not None:
            env = {**(self.env or {}), **(override.env or {})}
        tags: dict[str, str] | None = None
        if self.tags is not None or override.tags is not None:
            tags = {**(self.tags or {}), **(override.tags or {})}
        return replace(
            self,
            env=env,
            tags=tags,
            cwd=override.cwd if override.cwd is not None else self.cwd,
            timeout=override.timeout if override.timeout is not None else self.timeout,
            cancel_grace=(
                override.cancel_grace if override.cancel_grace is not None else self.cancel_grace
            ),
            host=override.host if override.host is not None else self.host,
            keep_background=self.keep_background or override.keep_background,
        )


@dataclass(slots=True, eq=False)
class Scope:
    """One level of `sh.scoped`: narrowing, defaults and registrations.

    Hooks and listeners are registered on the scope object itself, so all
    tasks that share the scope see them; inner scopes see their parents'.
    ``catalogue`` is the one `sh.make` uses when given none (None: the
    parent's, in the end `DEFAULT_CATALOGUE`).
    """

    parent: Scope | None
    allowlist: frozenset[Program] | None
    defaults: ExecutionContext
    catalogue: ProgramCatalogue | None = None
    before: list[Any] = field(default_factory=list[Any])
    after: list[Any] = field(default_factory=list[Any])
    observers: list[Any] = field(default_factory=list[Any])

    def chain(self) -> Iterator[Scope]:
        """Yield this scope and its parents, innermost first."""
        scope: Scope | None = self
        while scope is not None:
            yield scope
            scope = scope.parent

    def is_allowed(self, program: str) -> bool:
        """Say whether every scope of the chain allows ``program``."""
        return all(scope.allowlist is None or program in scope.allowlist for scope in self.chain())

    def require_allowed(self, programs: Iterable[str]) -> None:
        """Raise `ForbiddenProgramError` for the first of ``programs`` the chain refuses."""
        for program in programs:
            if not self.is_allowed(program):
                raise ForbiddenProgramError(program)


ROOT_SCOPE = Scope(parent=None, allowlist=None, defaults=ExecutionContext())
current_scope: contextvars.ContextVar[Scope] = contextvars.ContextVar(
    "cuprum_scope", default=ROOT_SCOPE
)
