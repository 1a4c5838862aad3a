"""What the git, rsync and tar builders share."""

from __future__ import annotations

from collections.abc import Iterable

from ._catalogue import Program, ProgramCatalogue
from ._commands import SafeCmd
from ._safepath import PathArg, to_safe_path
from ._sh import sh

__all__ = ["build", "count_option"]


def build(
    program: Program, catalogue: ProgramCatalogue, args: Iterable[str], cwd: PathArg | None = None
) -> SafeCmd:
    """Build ``program args...`` through `sh.make` (catalogue and scope apply).

    Raises
    ------
    UnknownProgramError, ForbiddenProgramError
        As `sh.make` does.
    """
    cmd = sh.make(program, catalogue=catalogue)(*args)
    if cwd is not None:
        cmd = cmd.with_context(cwd=to_safe_path(cwd, "cwd"))
    return cmd


def count_option(name: str, value: int, *, minimum: int) -> str:
    """Return ``--name=value`` for a count, checking its type and range.

    Raises
    ------
    TypeError
        ``value`` is not an int (bool included).
    ValueError
        ``value`` is below ``minimum``.
    """
    if isinstance(value, bool) or not isinstance(value, int):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise TypeError(f"{name} must be an int, not {type(value).__name__} ({value!r})")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value!r}")
    return f"--{name.replace('_', '-')}={value}"
