"""Typed builders for git commands over `SafePath` and `GitRef`."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import final

from ._builders_base import build, count_option
from ._catalogue import DEFAULT_CATALOGUE, GIT, Program, ProgramCatalogue
from ._commands import SafeCmd, to_argv_entry
from ._gitref import RefArg, to_git_ref
from ._safepath import PathArg, SafePath, local_operand, to_safe_path

__all__ = ["Git"]

# ``<transport>::<address>`` runs ``git-remote-<transport>``; ``ext`` runs an
# arbitrary command and ``fd`` talks over inherited descriptors.
_REMOTE_HELPER = re.compile(r"^(ext|fd)::", re.IGNORECASE)


def _url(value: str | SafePath) -> str:
    if isinstance(value, SafePath):
        return local_operand(value)
    text = to_argv_entry(value, what="clone url")
    if not text:
        raise ValueError("clone url is empty ('')")
    if text.startswith("-"):
        raise ValueError(f"clone url {text!r} starts with '-' and could be read as an option")
    if _REMOTE_HELPER.match(text):
        raise ValueError(f"clone url {text!r} uses a transport that runs commands or reads fds")
    return text


@final
class Git:
    """Build git commands whose user values can never become options.

    Every method returns a `SafeCmd` built through ``sh.make(program)``, so
    the catalogue and the current scope's allowlist apply. Paths are
    `SafePath` values (plain paths are checked with its default rules) and
    references are `GitRef` values (plain str are validated as one); path
    operands come after ``--``.

    Parameters
    ----------
    program : Program
        The git program as named in ``catalogue``.
    catalogue : ProgramCatalogue
        The catalogue `sh.make` checks the program against.
    """

    __slots__ = ("_catalogue", "_program")

    def __init__(
        self, program: Program = GIT, *, catalogue: ProgramCatalogue = DEFAULT_CATALOGUE
    ) -> None:
        self._program = program
        self._catalogue = catalogue

    def __repr__(self) -> str:
        return f"Git({self._program!r})"

    def _cmd(self, args: Iterable[str], repo: PathArg | None = None) -> SafeCmd:
        return build(self._program, self._catalogue, args, repo)

    def init(
        self, directory: PathArg, *, bare: bool = False, initial_branch: RefArg | None = None
    ) -> SafeCmd:
        """``git init [--bare] [--initial-branch=<ref>] -- <directory>``.

        Raises
        ------
        TypeError, ValueError
            ``directory`` is not a valid `SafePath` or ``initial_branch`` not
            a valid `GitRef`; the message names the value.
        UnknownProgramError, ForbiddenProgramError
            git may not run here.
        """
        args = ["init"]
        if bare:
            args.append("--bare")
        if initial_branch is not None:
            args.append(f"--initial-branch={to_git_ref(initial_branch, 'initial_branch')}")
        args += ["--", local_operand(to_safe_path(directory, "directory"))]
        return self._cmd(args)

    def clone(
        self,
        url: str | SafePath,
        dest: PathArg,
        *,
        branch: RefArg | None = None,
        depth: int | None = None,
    ) -> SafeCmd:
        """``git clone [--branch=<ref>] [--depth=<n>] -- <url> <dest>``.

        Parameters
        ----------
        url : str | SafePath
            The repository: a URL (``https://...``, ``ssh://...``,
            ``host:path``) or a local `SafePath`.
        dest : SafePath | str | os.PathLike
            The directory to clone into.
        branch : GitRef | str | None
            Check out this branch or tag instead of the remote's HEAD.
        depth : int | None
            Make a shallow clone of this many commits (at least 1).

        Raises
        ------
        TypeError, ValueError
            A value breaks its rule: an empty url, one starting with ``-``,
            one using the ``ext::`` or ``fd::`` transports, an invalid
            `SafePath` or `GitRef`, a depth below 1.
        UnknownProgramError, ForbiddenProgramError
            git may not run here.
        """
        args = ["clone"]
        if branch is not None:
            args.append(f"--branch={to_git_ref(branch, 'branch')}")
        if depth is not None:
            args.append(count_option("depth", depth, minimum=1))
        args += ["--", _url(url), local_operand(to_safe_path(dest, "dest"))]
        return self._cmd(args)

    def checkout(self, ref: RefArg, *, repo: PathArg | None = None) -> SafeCmd:
        """``git checkout <ref> --`` (the ``--`` keeps ``ref`` from being a path).

        ``repo`` sets the command's working directory (default: inherited).

        Raises
        ------
        TypeError, ValueError
            ``ref`` is not a valid `GitRef` or ``repo`` not a valid `SafePath`.
        UnknownProgramError, ForbiddenProgramError
            git may not run here.
        """
        return self._cmd(["checkout", to_git_ref(ref, "ref").name, "--"], repo)

    def log(
        self,
        ref: RefArg | None = None,
        *,
        max_count: int | None = None,
        format: str | None = None,
        paths: Iterable[PathArg] = (),
        repo: PathArg | None = None,
    ) -> SafeCmd:
        """``git log [--max-count=<n>] [--format=<fmt>] [<ref>] -- [<paths>...]``.

        With ``paths``, ``--literal-pathspecs`` comes first so git takes
        them as file names, not patterns.

        Parameters
        ----------
        ref : GitRef | str | None
            Where the history starts (default: HEAD).
        max_count : int | None
            Show at most this many commits (0 or more).
        format : str | None
            A ``--format`` string such as ``"%H %s"``.
        paths : Iterable[SafePath | str | os.PathLike]
            Only commits touching these paths.
        repo : SafePath | str | os.PathLike | None
            The working directory (default: inherited).

        Raises
        ------
        TypeError, ValueError
            A value breaks its rule (invalid `GitRef` or `SafePath`, a
            negative ``max_count``, NUL in ``format``).
        UnknownProgramError, ForbiddenProgramError
            git may not run here.
        """
        operands = [local_operand(to_safe_path(p, f"paths[{i}]")) for i, p in enumerate(paths)]
        # Paths are files, not pathspec patterns: no globbing, no ":(magic)".
        args = ["--literal-pathspecs", "log"] if operands else ["log"]
        if max_count is not None:
            args.append(count_option("max_count", max_count, minimum=0))
        if format is not None:
            args.append(f"--format={to_argv_entry(format, what='format')}")
        if ref is not None:
            args.append(to_git_ref(ref, "ref").name)
        args += ["--", *operands]
        return self._cmd(args, repo)

    def rev_parse(self, ref: RefArg, *, repo: PathArg | None = None) -> SafeCmd:
        """``git rev-parse --verify <ref>``: print the object id ``ref`` names.

        Raises
        ------
        TypeError, ValueError
            ``ref`` is not a valid `GitRef` or ``repo`` not a valid `SafePath`.
        UnknownProgramError, ForbiddenProgramError
            git may not run here.
        """
        return self._cmd(["rev-parse", "--verify", to_git_ref(ref, "ref").name], repo)
