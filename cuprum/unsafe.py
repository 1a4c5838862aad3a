"""The escape hatch: commands for programs outside the catalogue.

Commands built here bypass the catalogue and are marked ``unsafe`` in every
event they produce. The argv is still passed without any shell.
"""

from __future__ import annotations

from collections.abc import Iterable

from ._catalogue import Program
from ._commands import SafeCmd, to_argv_entry

__all__ = ["dynamic"]


def dynamic(argv: Iterable[object]) -> SafeCmd:
    """Build a command from a whole argv, program first, outside the catalogue.

    Raises
    ------
    ValueError
        For an empty argv, or an entry containing a NUL byte.
    TypeError
        For None or an entry that cannot be an argv entry.
    """
    entries = tuple(to_argv_entry(value, what=f"argv[{i}]") for i, value in enumerate(argv))
    if not entries:
        raise ValueError("unsafe.dynamic() needs a non-empty argv")
    if not entries[0]:
        raise ValueError("unsafe.dynamic(): the program (argv[0]) is empty")
    return SafeCmd(program=Program(entries[0]), argv=entries, unsafe=True)
