"""`GitRef` and the other git values the builders check: refspecs, URLs, messages."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TypeAlias, final

from ._commands import to_argv_entry

__all__ = ["GitRef", "RefArg", "message_option", "to_git_ref", "to_git_url", "to_refspec"]

# ``<transport>::<address>`` runs ``git-remote-<transport>``; ``ext`` runs an
# arbitrary command and ``fd`` talks over inherited descriptors.
_REMOTE_HELPER = re.compile(r"^(ext|fd)::", re.IGNORECASE)

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


def to_refspec(value: RefArg, what: str) -> str:
    """Return ``value`` as a refspec ``[+]<src>[:<dst>]`` for fetch or push.

    Each non-empty side must be a valid `GitRef` name; one side may be
    empty (``:<dst>`` deletes on push, ``<src>:`` fetches without
    storing), not both. Globs (``*``) are refused, as in `GitRef`.

    Raises
    ------
    TypeError
        ``value`` is neither a `GitRef` nor a str.
    ValueError
        ``value`` is not such a refspec; the message names ``what`` and it.
    """
    if isinstance(value, GitRef):
        return value.name
    if not isinstance(value, str):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise TypeError(f"{what} must be a str or GitRef, not {type(value).__name__} ({value!r})")
    src, colon, dst = value.removeprefix("+").partition(":")
    if colon and not (src or dst):
        raise ValueError(f"{what}: invalid refspec {value!r}: it names no reference")
    # Without a colon the source is the whole refspec, so it must be there.
    for side, name, needed in (("source", src, not colon), ("destination", dst, False)):
        problem = _problem(name) if name or needed else None
        if problem is not None:
            raise ValueError(f"{what}: invalid refspec {value!r}: the {side} {name!r}: {problem}")
    return value


def to_git_url(value: str, what: str) -> str:
    """Return ``value`` as a repository URL (``https://...``, ``host:path``, a path).

    Raises
    ------
    TypeError
        ``value`` cannot be an argv entry.
    ValueError
        ``value`` is empty, holds a NUL byte, starts with ``-`` or uses the
        ``ext::`` or ``fd::`` transports; the message names ``what`` and it.
    """
    text = to_argv_entry(value, what=what)
    if not text:
        raise ValueError(f"{what} is empty ('')")
    if text.startswith("-"):
        raise ValueError(f"{what} {text!r} starts with '-' and could be read as an option")
    if _REMOTE_HELPER.match(text):
        raise ValueError(f"{what} {text!r} uses a transport that runs commands or reads fds")
    return text


def message_option(value: str, what: str = "message") -> str:
    """Return ``--message=<value>``: one argv entry, so a leading ``-`` is text.

    Raises
    ------
    TypeError
        ``value`` is not a str.
    ValueError
        ``value`` is empty or holds a NUL byte.
    """
    if not isinstance(value, str):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise TypeError(f"{what} must be a str, not {type(value).__name__} ({value!r})")
    if not value:
        raise ValueError(f"{what} is empty ('')")
    return f"--message={to_argv_entry(value, what=what)}"
