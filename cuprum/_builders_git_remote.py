"""The git commands that talk to other repositories: clone, fetch, push.

A mixin of `cuprum.builders.Git`, kept apart so each module stays small.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterable

from ._builders_base import count_option
from ._commands import SafeCmd
from ._gitref import GitRef, RefArg, to_git_ref, to_git_url, to_refspec
from ._safepath import PathArg, SafePath, local_operand, to_safe_path

__all__ = ["GitRemoteCommands"]


def _url(value: GitRef | SafePath | str, what: str) -> str:
    if isinstance(value, SafePath):
        return local_operand(value)
    # A valid GitRef name (a remote's) also passes the URL rules.
    return value.name if isinstance(value, GitRef) else to_git_url(value, what)


def _remote_args(remote: GitRef | SafePath | str | None, refspecs: Iterable[RefArg]) -> list[str]:
    if isinstance(refspecs, str):
        raise TypeError(f"refspecs must be an iterable of refspecs, not a str ({refspecs!r})")
    specs = [to_refspec(r, f"refspecs[{i}]") for i, r in enumerate(refspecs)]
    if remote is None:
        if specs:
            raise ValueError(f"refspecs {specs!r} need a remote")
        return ["--"]
    return ["--", _url(remote, "remote"), *specs]


class GitRemoteCommands:
    """`Git`'s commands for other repositories (see `cuprum.builders.Git`)."""

    __slots__ = ()

    @abstractmethod
    def _cmd(self, args: Iterable[str], repo: PathArg | None = None) -> SafeCmd: ...

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
        args += [
            "--",
            _url(url, "clone url"),
            local_operand(to_safe_path(dest, "dest", allow_dash=True)),
        ]
        return self._cmd(args)

    def fetch(
        self,
        remote: GitRef | SafePath | str | None = None,
        refspecs: Iterable[RefArg] = (),
        *,
        depth: int | None = None,
        prune: bool = False,
        repo: PathArg | None = None,
    ) -> SafeCmd:
        """``git fetch [--prune] [--depth=<n>] -- [<remote> [<refspecs>...]]``.

        ``remote`` is a remote name, or a URL or `SafePath` as for `clone`.
        A refspec is ``[+]<src>[:<dst>]``, each side a `GitRef` name.

        Raises
        ------
        TypeError, ValueError
            ``remote`` breaks the clone URL rules, a refspec is invalid or
            has no remote, ``refspecs`` is a str, ``depth`` is below 1.
        UnknownProgramError, ForbiddenProgramError
            git may not run here.
        """
        args = ["fetch", *(["--prune"] if prune else [])]
        if depth is not None:
            args.append(count_option("depth", depth, minimum=1))
        return self._cmd([*args, *_remote_args(remote, refspecs)], repo)

    def push(
        self,
        remote: GitRef | SafePath | str | None = None,
        refspecs: Iterable[RefArg] = (),
        *,
        force: bool = False,
        set_upstream: bool = False,
        tags: bool = False,
        repo: PathArg | None = None,
    ) -> SafeCmd:
        """``git push [--force] [--set-upstream] [--tags] -- [<remote> [<refspecs>...]]``.

        ``remote`` and ``refspecs`` as for `fetch`; ``:<dst>`` deletes
        ``<dst>`` on the remote.

        Raises
        ------
        TypeError, ValueError
            ``remote`` breaks the clone URL rules, a refspec is invalid or
            has no remote, or ``refspecs`` is a str.
        UnknownProgramError, ForbiddenProgramError
            git may not run here.
        """
        pairs = (("--force", force), ("--set-upstream", set_upstream), ("--tags", tags))
        args = ["push", *(f for f, on in pairs if on)]
        return self._cmd([*args, *_remote_args(remote, refspecs)], repo)
