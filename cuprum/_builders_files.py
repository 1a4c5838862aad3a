"""Typed builders for rsync and tar over `SafePath`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import final

from ._builders_base import build
from ._catalogue import DEFAULT_CATALOGUE, RSYNC, TAR, Program, ProgramCatalogue
from ._commands import SafeCmd, to_argv_entry
from ._safepath import PathArg, local_operand, to_safe_path

__all__ = ["Rsync", "Tar"]


@final
class Rsync:
    """Build local rsync commands whose user values can never become options.

    Both operands are `SafePath` values after ``--``, where nothing is an
    option, so there a plain path may start with ``-``. A relative path
    with a colon before its first ``/`` gets a ``./`` prefix so rsync never
    takes it for ``host:path`` (this builder copies between local paths
    only).

    Parameters
    ----------
    program : Program
        The rsync program as named in ``catalogue``.
    catalogue : ProgramCatalogue
        The catalogue `sh.make` checks the program against.
    """

    __slots__ = ("_catalogue", "_program")

    def __init__(
        self, program: Program = RSYNC, *, catalogue: ProgramCatalogue = DEFAULT_CATALOGUE
    ) -> None:
        self._program = program
        self._catalogue = catalogue

    def __repr__(self) -> str:
        return f"Rsync({self._program!r})"

    def sync(
        self,
        src: PathArg,
        dest: PathArg,
        *,
        archive: bool = True,
        delete: bool = False,
        dry_run: bool = False,
        excludes: Iterable[str] = (),
    ) -> SafeCmd:
        """``rsync [--archive] [--delete] [--dry-run] [--exclude=<p>...] -- <src> <dest>``.

        As with rsync itself, ``src/`` copies the directory's contents and
        ``src`` the directory (pass a str to keep the trailing ``/``;
        `pathlib.Path` drops it).

        Parameters
        ----------
        src, dest : SafePath | str | os.PathLike
            Local source and destination (after ``--``: either may start
            with ``-``).
        archive : bool
            ``--archive``: recurse and keep permissions, times, links.
        delete : bool
            ``--delete``: remove files in ``dest`` that ``src`` lacks.
        dry_run : bool
            ``--dry-run``: only report what would change.
        excludes : Iterable[str]
            Patterns, each passed as ``--exclude=<pattern>``.

        Raises
        ------
        TypeError, ValueError
            A path is not a valid `SafePath`, or a pattern is not a str, is
            empty or contains a NUL byte.
        UnknownProgramError, ForbiddenProgramError
            rsync may not run here.
        """
        if isinstance(excludes, str):
            raise TypeError(f"excludes must be an iterable of patterns, not a str ({excludes!r})")
        args: list[str] = []
        if archive:
            args.append("--archive")
        if delete:
            args.append("--delete")
        if dry_run:
            args.append("--dry-run")
        for index, pattern in enumerate(excludes):
            if not isinstance(pattern, str):  # pyright: ignore[reportUnnecessaryIsInstance]
                raise TypeError(f"excludes[{index}] must be a str, not {type(pattern).__name__}")
            if not pattern:
                raise ValueError(f"excludes[{index}] is an empty pattern ('')")
            args.append(f"--exclude={to_argv_entry(pattern, what=f'excludes[{index}]')}")
        args += [
            "--",
            local_operand(to_safe_path(src, "src", allow_dash=True)),
            local_operand(to_safe_path(dest, "dest", allow_dash=True)),
        ]
        return build(self._program, self._catalogue, args)


@final
class Tar:
    """Build GNU tar commands whose user values can never become options.

    The archive goes in ``--file=<archive>`` (a relative name with a colon
    gets a ``./`` prefix so tar never takes it for ``host:file``); member
    paths come after ``--``, where nothing is an option, so a plain member
    path may start with ``-`` (the archive and ``cwd`` may not).
    ``SafePath("-", allow_dash=True)`` as the archive means stdin/stdout,
    as tar itself has it.

    Parameters
    ----------
    program : Program
        The tar program as named in ``catalogue``.
    catalogue : ProgramCatalogue
        The catalogue `sh.make` checks the program against.
    """

    __slots__ = ("_catalogue", "_program")

    def __init__(
        self, program: Program = TAR, *, catalogue: ProgramCatalogue = DEFAULT_CATALOGUE
    ) -> None:
        self._program = program
        self._catalogue = catalogue

    def __repr__(self) -> str:
        return f"Tar({self._program!r})"

    def _file(self, archive: PathArg) -> str:
        return "--file=" + local_operand(to_safe_path(archive, "archive"))

    def create(
        self,
        archive: PathArg,
        paths: Sequence[PathArg],
        *,
        gzip: bool = False,
        cwd: PathArg | None = None,
    ) -> SafeCmd:
        """``tar --create [--gzip] --file=<archive> [--directory=<cwd>] -- <paths>...``.

        Parameters
        ----------
        archive : SafePath | str | os.PathLike
            The archive to write (relative to the caller's directory, not
            ``cwd``).
        paths : Sequence[SafePath | str | os.PathLike]
            What to put in it (at least one), relative to ``cwd``; these
            come after ``--``, so one may start with ``-``.
        gzip : bool
            Compress with gzip.
        cwd : SafePath | str | os.PathLike | None
            Change to this directory before adding ``paths``.

        Raises
        ------
        TypeError, ValueError
            A path is not a valid `SafePath`, ``paths`` is a str or empty.
        UnknownProgramError, ForbiddenProgramError
            tar may not run here.
        """
        if isinstance(paths, (str, bytes)):
            raise TypeError(f"paths must be a sequence of paths, not a single path ({paths!r})")
        # Member names are never host:file to tar, so no local_operand here.
        members = [
            to_safe_path(p, f"paths[{i}]", allow_dash=True).path for i, p in enumerate(paths)
        ]
        if not members:
            raise ValueError(f"paths is empty ({paths!r}): tar refuses to create an empty archive")
        args = ["--create"]
        if gzip:
            args.append("--gzip")
        args.append(self._file(archive))
        if cwd is not None:
            args.append(f"--directory={to_safe_path(cwd, 'cwd').path}")
        args += ["--", *members]
        return build(self._program, self._catalogue, args)

    def extract(self, archive: PathArg, dest: PathArg) -> SafeCmd:
        """``tar --extract --file=<archive> --directory=<dest>``.

        Compression is detected from the archive. GNU tar refuses members
        whose names contain ``..`` and strips a leading ``/``.

        Raises
        ------
        TypeError, ValueError
            ``archive`` or ``dest`` is not a valid `SafePath`.
        UnknownProgramError, ForbiddenProgramError
            tar may not run here.
        """
        dest_path = to_safe_path(dest, "dest").path
        args = ["--extract", self._file(archive), f"--directory={dest_path}"]
        return build(self._program, self._catalogue, args)

    def list(self, archive: PathArg) -> SafeCmd:
        """``tar --list --file=<archive>``: print the member names.

        Raises
        ------
        TypeError, ValueError
            ``archive`` is not a valid `SafePath`.
        UnknownProgramError, ForbiddenProgramError
            tar may not run here.
        """
        return build(self._program, self._catalogue, ["--list", self._file(archive)])
