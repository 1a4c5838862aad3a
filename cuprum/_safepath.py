"""`SafePath`: a path that can never be read as an option, optionally confined."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import TypeAlias, final

__all__ = ["PathArg", "SafePath", "local_operand", "path_operands", "to_safe_path"]


@final
class SafePath(os.PathLike[str]):
    """A validated filesystem path for use in an argv.

    A `SafePath` is a frozen, hashable value: it holds a non-empty path
    without NUL bytes that does not start with ``-`` (so no program can read
    it as an option), and, when ``base`` is given, that stays inside
    ``base`` once ``..`` and symbolic links are resolved.

    Parameters
    ----------
    path : str | bytes | os.PathLike
        The path. Bytes must decode with the filesystem encoding.
    allow_dash : bool
        Accept a path that starts with ``-`` (for example ``-`` meaning
        stdin/stdout for tar's ``--file``). Without it, write ``./-x`` for
        a file really named ``-x``.
    base : str | bytes | os.PathLike | None
        Confine the path to this directory. A relative ``path`` is taken
        relative to ``base``; the stored path is the resolved, absolute one
        (a trailing ``/`` is kept, since tools such as rsync give it a
        meaning).

    Attributes
    ----------
    path : str
        The path as passed (or, with ``base``, resolved and absolute).
    base : str | None
        The resolved base directory, or None.

    Raises
    ------
    TypeError
        ``path`` or ``base`` is not a str, bytes or os.PathLike.
    ValueError
        The path is empty, contains a NUL byte, does not decode, starts with
        ``-`` without ``allow_dash``, or escapes ``base``; the message names
        the rejected value and the reason.

    Notes
    -----
    Confinement is checked when the value is built. A symbolic link created
    afterwards inside ``base`` can still point elsewhere; confine writes to
    directories that untrusted parties cannot modify.
    """

    __slots__ = ("_base", "_path")

    _path: str
    _base: str | None

    def __init__(
        self,
        path: str | bytes | os.PathLike[str] | os.PathLike[bytes],
        *,
        allow_dash: bool = False,
        base: str | bytes | os.PathLike[str] | os.PathLike[bytes] | None = None,
    ) -> None:
        text = _path_text(path, "path")
        if not text:
            raise ValueError("SafePath: the path is empty ('')")
        if text.startswith("-") and not allow_dash:
            raise ValueError(
                f"SafePath: {text!r} starts with '-' and could be read as an option; "
                f"write {'./' + text!r} for a file of that name, or pass allow_dash=True"
            )
        resolved_base: str | None = None
        if base is not None:
            base_text = _path_text(base, "base")
            if not base_text:
                raise ValueError("SafePath: the base directory is empty ('')")
            resolved_base = os.path.realpath(base_text)
            resolved = os.path.realpath(os.path.join(resolved_base, text))
            if os.path.commonpath([resolved_base, resolved]) != resolved_base:
                raise ValueError(
                    f"SafePath: {text!r} resolves to {resolved!r}, "
                    f"outside the base directory {resolved_base!r}"
                )
            if text.endswith(os.sep) and not resolved.endswith(os.sep):
                resolved += os.sep
            text = resolved
        object.__setattr__(self, "_path", text)
        object.__setattr__(self, "_base", resolved_base)

    @property
    def path(self) -> str:
        """The validated path (absolute and resolved when ``base`` was given)."""
        return self._path

    @property
    def base(self) -> str | None:
        """The resolved base directory the path is confined to, or None."""
        return self._base

    def __fspath__(self) -> str:
        return self._path

    def __str__(self) -> str:
        return self._path

    def __repr__(self) -> str:
        if self._base is None:
            return f"SafePath({self._path!r})"
        return f"SafePath({self._path!r}, base={self._base!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SafePath):
            return (self._path, self._base) == (other._path, other._base)
        return NotImplemented

    def __hash__(self) -> int:
        return hash((SafePath, self._path, self._base))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"SafePath is immutable; cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"SafePath is immutable; cannot delete {name!r}")

    def __reduce__(self) -> tuple[object, ...]:
        # Rebuild through __init__ so an unpickled value is validated again.
        if self._base is None:
            return (_rebuild, (self._path, None))
        return (_rebuild, (self._path, self._base))


PathArg: TypeAlias = "SafePath | str | os.PathLike[str]"
"""What the builders accept for a path: a `SafePath`, or a plain path held to its defaults."""


def _rebuild(path: str, base: str | None) -> SafePath:
    return SafePath(path, allow_dash=True, base=base)


def _path_text(value: object, what: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, bytes, os.PathLike)):
        raise TypeError(
            f"SafePath: {what} must be str, bytes or os.PathLike, "
            f"not {type(value).__name__} ({value!r})"
        )
    raw: str | bytes = os.fspath(value)  # pyright: ignore[reportUnknownArgumentType]
    if isinstance(raw, bytes):
        encoding = sys.getfilesystemencoding()
        try:
            raw = raw.decode(encoding)
        except UnicodeDecodeError:
            raise ValueError(
                f"SafePath: {what} {raw!r} does not decode with the filesystem encoding {encoding}"
            ) from None
    if "\0" in raw:
        raise ValueError(f"SafePath: {what} {raw!r} contains a NUL byte")
    return raw


def to_safe_path(value: PathArg, what: str, *, allow_dash: bool = False) -> SafePath:
    """Return ``value`` as a `SafePath` (strict defaults for plain paths).

    ``allow_dash`` accepts a plain path starting with ``-``: right for an
    operand placed after ``--``, where nothing is read as an option.

    Raises
    ------
    TypeError
        ``value`` is not a path.
    ValueError
        ``value`` breaks a `SafePath` rule; the message names ``what``.
    """
    if isinstance(value, SafePath):
        return value
    try:
        return SafePath(value, allow_dash=allow_dash)
    except ValueError as exc:
        raise ValueError(f"{what}: {exc}") from None
    except TypeError as exc:
        raise TypeError(f"{what}: {exc}") from None


def local_operand(path: SafePath) -> str:
    """Spell ``path`` so tools such as rsync, tar and git read it as local.

    Those tools take ``host:path`` (a colon before the first ``/``) as a
    remote location; a relative path like that gets a ``./`` prefix.
    """
    text = path.path
    head = text.split("/", 1)[0]
    if ":" in head and not os.path.isabs(text):
        return "./" + text
    return text


def path_operands(paths: Iterable[PathArg], what: str = "paths") -> list[str]:
    """Spell ``paths`` as operands placed after ``--`` (see `local_operand`).

    After ``--`` nothing is read as an option, so a plain path may start
    with ``-`` here.

    Raises
    ------
    TypeError
        ``paths`` is a single str or bytes, or holds a non-path.
    ValueError
        A path breaks another `SafePath` rule; the message names ``what[i]``.
    """
    if isinstance(paths, (str, bytes)):
        raise TypeError(f"{what} must be an iterable of paths, not a single path ({paths!r})")
    return [
        local_operand(to_safe_path(p, f"{what}[{i}]", allow_dash=True)) for i, p in enumerate(paths)
    ]
