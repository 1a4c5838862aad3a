"""`GitRef`: a git reference name validated like ``git check-ref-format``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias, final

__all__ = ["GitRef", "RefArg", "to_git_ref"]

_FORBIDDEN = frozenset(" ~^:?*[\\")


@final
@dataclass(frozen=True, slots=True)
class GitRef:
    """A git reference name (branch, tag, commit id) that is safe in an argv.

    The rules are those of ``git check-ref-format --allow-onelevel``, plus
    a ban on a leading ``-`` so that the name can never be read as an
    option.

    Parameters
    ----------
    name : str
        The reference, for example ``"main"``, ``"release/1.2"`` or a
        commit id. It must be non-empty and must not start with ``-``,
        contain ``..``, ``@{``, ``//``, an ASCII control character, a space
        or any of ``~ ^ : ? * [ \\``, start or end with ``/``, end with
        ``.``, be ``@``, or have a ``/``-separated component that starts
        with ``.`` or ends with ``.lock``.

    Raises
    ------
    TypeError
        ``name`` is not a str.
    ValueError
        ``name`` breaks a rule; the message names it and the rule.
    """

    name: str

    def __post_init__(self) -> None:
        name = self.name
        if not isinstance(name, str):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(f"GitRef: the name must be a str, not {type(name).__name__} ({name!r})")
        problem = _problem(name)
        if problem is not None:
            raise ValueError(f"GitRef: invalid reference name {name!r}: {problem}")

    def __str__(self) -> str:
        return self.name


RefArg: TypeAlias = "GitRef | str"
"""What the builders accept for a reference: a `GitRef`, or a str validated as one."""


def _problem(name: str) -> str | None:
    if not name:
        return "it is empty"
    if name.startswith("-"):
        return "it starts with '-' and could be read as an option"
    if name == "@":
        return "'@' alone is not a reference name"
    for char in name:
        if ord(char) < 0o40 or ord(char) == 0o177:
            return f"it contains the control character {char!r}"
        if char in _FORBIDDEN:
            return f"it contains {char!r}"
    for sequence in ("..", "@{", "//"):
        if sequence in name:
            return f"it contains {sequence!r}"
    if name.startswith("/") or name.endswith("/"):
        return "it starts or ends with '/'"
    if name.endswith("."):
        return "it ends with '.'"
    for component in name.split("/"):
        if component.startswith("."):
            return f"the component {component!r} starts with '.'"
        if component.endswith(".lock"):
            return f"the component {component!r} ends with '.lock'"
    return None


def to_git_ref(value: RefArg, what: str) -> GitRef:
    """Return ``value`` as a `GitRef`.

    Raises
    ------
    TypeError
        ``value`` is neither a `GitRef` nor a str.
    ValueError
        ``value`` is not a valid reference name; the message names ``what``.
    """
    if isinstance(value, GitRef):
        return value
    try:
        return GitRef(value)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{what}: {exc}") from None
