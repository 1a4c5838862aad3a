"""Programs and the catalogue that says which of them cuprum may run."""

from __future__ import annotations

import difflib
import os
import shutil
from dataclasses import dataclass, field
from typing import NewType, final

from ._errors import UnknownProgramError

__all__ = [
    "DEFAULT_CATALOGUE",
    "Program",
    "ProgramCatalogue",
    "ProjectSettings",
]

Program = NewType("Program", str)
Program.__doc__ = """The name (or path) of an executable, as a catalogue entry.

A `typing.NewType` over `str`: a plain string at run time, marked for type
checkers as a program name. Catalogues (`ProgramCatalogue`) list programs,
and `sh.make` builds commands only for a program its catalogue lists. Make
one with ``Program("name")``, or use a constant such as ``ECHO`` or ``GREP``.
"""


@final
@dataclass(frozen=True, slots=True)
class ProjectSettings:
    """The programs one project may run, with notes about them.

    Parameters
    ----------
    name : str
        The project's name, shown in error messages.
    programs : tuple[Program, ...]
        The programs the project allows.
    documentation_locations : tuple[str, ...]
        Where to read about the programs (URLs or paths), for people.
    noise_rules : tuple[str, ...]
        Patterns of output lines a project considers noise, for tools that
        display output.
    """

    name: str
    programs: tuple[Program, ...]
    documentation_locations: tuple[str, ...] = ()
    noise_rules: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Accept any iterable of programs but store a tuple, so the value is
        # hashable and cannot change under a catalogue.
        object.__setattr__(self, "programs", tuple(self.programs))
        object.__setattr__(self, "documentation_locations", tuple(self.documentation_locations))
        object.__setattr__(self, "noise_rules", tuple(self.noise_rules))
        for program in self.programs:
            if not isinstance(program, str) or not program or "\0" in program:  # pyright: ignore[reportUnnecessaryIsInstance]
                raise ValueError(f"project {self.name!r}: invalid program name {program!r}")


@final
@dataclass(frozen=True, slots=True)
class ProgramCatalogue:
    """The programs cuprum may build commands for, grouped by project.

    Parameters
    ----------
    projects : tuple[ProjectSettings, ...]
        The projects; each program belongs to exactly one.

    Raises
    ------
    ValueError
        A program is listed by two projects (the message names both).
    """

    projects: tuple[ProjectSettings, ...]
    _index: dict[Program, ProjectSettings] = field(
        init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "projects", tuple(self.projects))
        index: dict[Program, ProjectSettings] = {}
        for project in self.projects:
            for program in project.programs:
                first = index.setdefault(program, project)
                if first is not project:
                    raise ValueError(
                        f"program {program!r} is listed by two projects, "
                        f"{first.name!r} and {project.name!r}; list it in one"
                    )
        object.__setattr__(self, "_index", index)

    @property
    def allowlist(self) -> frozenset[Program]:
        """Every program of every project."""
        return frozenset(self._index)

    def is_allowed(self, program: Program | str) -> bool:
        """Say whether ``program`` is in the catalogue."""
        return program in self._index

    def lookup(self, program: Program | str) -> ProjectSettings:
        """Return the project that allows ``program``.

        Raises
        ------
        UnknownProgramError
            If no project lists the program; the message names the program,
            the catalogue's projects and its closest names
            (`UnknownProgramError.suggestions`).
        """
        try:
            return self._index[Program(program)]
        except KeyError:
            raise UnknownProgramError(
                program,
                (project.name for project in self.projects),
                suggestions=difflib.get_close_matches(program, self._index, n=3),
            ) from None

    def missing(self) -> frozenset[Program]:
        """Return the programs of the catalogue that cannot be found here.

        A name is searched on the current ``PATH`` as `shutil.which` does; a
        program given as a path counts as found when it is an executable
        file. Meant for a start-up check, so that a missing tool is reported
        before the first run needs it; a ``PATH`` set by a scope or a
        command's context is not consulted.
        """
        search = os.environ.get("PATH", os.defpath)
        return frozenset(program for program in self._index if not _found(program, search))


def _found(program: str, search: str) -> bool:
    if os.sep in program:
        return os.path.isfile(program) and os.access(program, os.X_OK)
    return shutil.which(program, path=search) is not None


ECHO = Program("echo")
CAT = Program("cat")
PRINTF = Program("printf")
TRUE = Program("true")
FALSE = Program("false")
SLEEP = Program("sleep")
ENV = Program("env")
LS = Program("ls")
GREP = Program("grep")
HEAD = Program("head")
TAIL = Program("tail")
WC = Program("wc")
SORT = Program("sort")
UNIQ = Program("uniq")
TR = Program("tr")
SED = Program("sed")
CUT = Program("cut")
GZIP = Program("gzip")
SHA256SUM = Program("sha256sum")
YES = Program("yes")
TEE = Program("tee")
PWD = Program("pwd")
SH = Program("sh")
PYTHON = Program("python3")
GIT = Program("git")
RSYNC = Program("rsync")
TAR = Program("tar")

DEFAULT_CATALOGUE = ProgramCatalogue(
    projects=(
        ProjectSettings(
            name="coreutils",
            programs=(
                ECHO,
                CAT,
                PRINTF,
                TRUE,
                FALSE,
                SLEEP,
                ENV,
                LS,
                GREP,
                HEAD,
                TAIL,
                WC,
                SORT,
                UNIQ,
                TR,
                SED,
                CUT,
                GZIP,
                SHA256SUM,
                YES,
                TEE,
                PWD,
            ),
            documentation_locations=("https://www.gnu.org/software/coreutils/manual/",),
        ),
        ProjectSettings(
            name="interpreters",
            programs=(SH, PYTHON),
            documentation_locations=("https://pubs.opengroup.org/onlinepubs/9799919799/",),
        ),
        ProjectSettings(
            name="vcs-and-transfer",
            programs=(GIT, RSYNC, TAR),
            documentation_locations=(
                "https://git-scm.com/docs",
                "https://download.samba.org/pub/rsync/rsync.1",
                "https://www.gnu.org/software/tar/manual/",
            ),
        ),
    )
)
"""The catalogue `sh.make` uses unless given another."""
