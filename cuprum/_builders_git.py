"""Typed builders for git commands over `SafePath` and `GitRef`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import final

from ._builders_base import build, count_option
from ._builders_git_remote import GitRemoteCommands
from ._catalogue import DEFAULT_CATALOGUE, GIT, Program, ProgramCatalogue
from ._commands import SafeCmd, to_argv_entry
from ._gitref import RefArg, message_option, to_git_ref
from ._safepath import PathArg, local_operand, path_operands, to_safe_path

__all__ = ["Git"]


def _pathspec_command(command: str, operands: list[str]) -> list[str]:
    # Paths are files, not pathspec patterns: no globbing, no ":(magic)".
    return ["--literal-pathspecs", command] if operands else [command]


def _ref_command(
    command: str, name: RefArg | None, second: tuple[str, RefArg | None], delete: bool, force: bool
) -> list[str]:
    what, ref = second
    if name is None:
        if ref is not None or delete or force:
            raise ValueError(f"{command}: without a name (a listing), pass no {what}/delete/force")
        return [command, "--list"]
    if delete and ref is not None:
        raise ValueError(f"{command}: delete takes no {what} ({ref!r})")
    args = [command, *(["--delete"] if delete else []), *(["--force"] if force else [])]
    args.append(to_git_ref(name, "name").name)
    return args if ref is None else [*args, to_git_ref(ref, what).name]


@final
class Git(GitRemoteCommands):
    """Build git commands whose user values can never become options.

    Every method returns a `SafeCmd` built through ``sh.make(program)``, so
    the catalogue and the current scope's allowlist apply. Paths are
    `SafePath` values (plain paths are checked with its default rules) and
    references are `GitRef` values (plain str are validated as one). Path
    operands come after ``--``, where nothing is an option, so there a
    plain path may start with ``-``.

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
        directory_path = to_safe_path(directory, "directory", allow_dash=True)
        args += ["--", local_operand(directory_path)]
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
            Only commits touching these paths (one may start with ``-``).
        repo : SafePath | str | os.PathLike | None
            The working directory (default: inherited).

        Raises
        ------
        TypeError, ValueError
            A value breaks its rule (invalid `GitRef` or `SafePath`, a
            negative ``max_count``, NUL in ``format``, ``paths`` a str).
        UnknownProgramError, ForbiddenProgramError
            git may not run here.
        """
        operands = path_operands(paths)
        args = _pathspec_command("log", operands)
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

    def add(
        self,
        paths: Iterable[PathArg] = (),
        *,
        all: bool = False,
        update: bool = False,
        repo: PathArg | None = None,
    ) -> SafeCmd:
        """``git [--literal-pathspecs] add [--all | --update] -- [<paths>...]``.

        ``all`` stages every change, ``update`` every change to tracked
        files (under ``paths`` if given). A path may start with ``-``.

        Raises
        ------
        TypeError, ValueError
            An invalid `SafePath`, ``paths`` a str, both flags, or nothing to add.
        UnknownProgramError, ForbiddenProgramError
            git may not run here.
        """
        paths_ = path_operands(paths)
        if all and update:
            raise ValueError("add: all and update exclude each other")
        if not (paths_ or all or update):
            raise ValueError("add: nothing to add; pass paths, all=True or update=True")
        args = _pathspec_command("add", paths_)
        args += ["--all"] if all else ["--update"] if update else []
        return self._cmd([*args, "--", *paths_], repo)

    def commit(
        self,
        message: str,
        *,
        all: bool = False,
        allow_empty: bool = False,
        repo: PathArg | None = None,
    ) -> SafeCmd:
        """``git commit [--all] [--allow-empty] --cleanup=verbatim --message=<message> --``.

        The message is one argv entry stored as given: never read as an
        option, no ``#`` lines or whitespace stripped. ``all`` is ``-a``.

        Raises
        ------
        TypeError, ValueError
            ``message`` is not a str, is empty or holds a NUL byte; ``repo``
            is not a valid `SafePath`.
        UnknownProgramError, ForbiddenProgramError
            git may not run here.
        """
        flags = [f for f, on in (("--all", all), ("--allow-empty", allow_empty)) if on]
        args = ["commit", *flags, "--cleanup=verbatim", message_option(message), "--"]
        return self._cmd(args, repo)

    def status(
        self, *, porcelain: bool = False, paths: Iterable[PathArg] = (), repo: PathArg | None = None
    ) -> SafeCmd:
        """``git [--literal-pathspecs] status [--porcelain] -- [<paths>...]``.

        ``porcelain`` selects git's stable format for scripts. A path may
        start with ``-``.

        Raises
        ------
        TypeError, ValueError
            An invalid `SafePath`, or ``paths`` a str.
        UnknownProgramError, ForbiddenProgramError
            git may not run here.
        """
        paths_ = path_operands(paths)
        args = _pathspec_command("status", paths_) + (["--porcelain"] if porcelain else [])
        return self._cmd([*args, "--", *paths_], repo)

    def diff(
        self,
        base: RefArg | None = None,
        target: RefArg | None = None,
        *,
        cached: bool = False,
        stat: bool = False,
        paths: Iterable[PathArg] = (),
        repo: PathArg | None = None,
    ) -> SafeCmd:
        """``git [--literal-pathspecs] diff [--cached] [--stat] [<base> [<target>]] -- [<paths>]``.

        Compares the work tree with the index, or with ``base``; ``cached``
        compares the index instead; ``base`` and ``target`` compare two
        commits. A path may start with ``-``.

        Raises
        ------
        TypeError, ValueError
            An invalid `GitRef` or `SafePath`, ``target`` without ``base``,
            or ``paths`` a str.
        UnknownProgramError, ForbiddenProgramError
            git may not run here.
        """
        paths_ = path_operands(paths)
        if target is not None and base is None:
            raise ValueError(f"diff: target {target!r} needs a base")
        args = _pathspec_command("diff", paths_)
        args += [f for f, on in (("--cached", cached), ("--stat", stat)) if on]
        refs = [
            to_git_ref(r, w).name for w, r in (("base", base), ("target", target)) if r is not None
        ]
        return self._cmd([*args, *refs, "--", *paths_], repo)

    def branch(
        self,
        name: RefArg | None = None,
        start: RefArg | None = None,
        *,
        delete: bool = False,
        force: bool = False,
        repo: PathArg | None = None,
    ) -> SafeCmd:
        """``git branch --list | [--delete] [--force] <name> [<start>]``.

        No ``name`` lists the branches; otherwise create ``name`` at
        ``start`` (default HEAD), or with ``delete`` delete it. ``force``
        moves an existing branch or deletes an unmerged one.

        Raises
        ------
        TypeError, ValueError
            An invalid `GitRef`, or arguments that fit none of those forms.
        UnknownProgramError, ForbiddenProgramError
            git may not run here.
        """
        return self._cmd(_ref_command("branch", name, ("start", start), delete, force), repo)

    def tag(
        self,
        name: RefArg | None = None,
        target: RefArg | None = None,
        *,
        message: str | None = None,
        delete: bool = False,
        force: bool = False,
        repo: PathArg | None = None,
    ) -> SafeCmd:
        """``git tag --list | [--delete] [--force] [<annotation>] <name> [<target>]``.

        As `branch`, for tags. A ``message`` makes an annotated tag
        (``--annotate --cleanup=verbatim --message=<message>``, one argv
        entry stored as given).

        Raises
        ------
        TypeError, ValueError
            An invalid `GitRef` or message (see `commit`), or arguments that
            fit none of the forms.
        UnknownProgramError, ForbiddenProgramError
            git may not run here.
        """
        args = _ref_command("tag", name, ("target", target), delete, force)
        if message is not None:
            if name is None or delete:
                raise ValueError("tag: a message needs a tag to create")
            args[1:1] = ["--annotate", "--cleanup=verbatim", message_option(message)]
        return self._cmd(args, repo)
