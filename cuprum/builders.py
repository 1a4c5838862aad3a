"""Typed, option-proof builders for git, rsync and tar.

User values reach the argv only as validated `SafePath` and `GitRef`
values, as ``--option=value`` entries, or after ``--``: none can be read as
an option, and none can hold a NUL byte. Commands are built through
`sh.make`, so the catalogue and the current scope's allowlist apply.

Examples
--------
>>> from cuprum.builders import SafePath, git, tar
>>> tar.create(SafePath("out.tar"), [SafePath("./-notes.txt")]).argv
('tar', '--create', '--file=out.tar', '--', './-notes.txt')
>>> git.rev_parse("main").argv
('git', 'rev-parse', '--verify', 'main')
"""

from __future__ import annotations

from ._builders_files import Rsync, Tar
from ._builders_git import Git
from ._gitref import GitRef
from ._safepath import SafePath

__all__ = ["Git", "GitRef", "Rsync", "SafePath", "Tar", "git", "rsync", "tar"]

git: Git = Git()
"""Builders for git commands from the default catalogue."""

rsync: Rsync = Rsync()
"""Builders for rsync commands from the default catalogue."""

tar: Tar = Tar()
"""Builders for tar commands from the default catalogue."""
