"""cuprum: typed, shell-free subprocesses and pipelines for asyncio and trio.

Build commands from a catalogue of allowed programs, run them (alone or as
pipelines) on any anyio event loop, and never leak a process or a
descriptor. See the user's guide at https://cuprum.readthedocs.io/, built
from ``docs/`` by ``make docs``.
"""

from __future__ import annotations

from ._catalogue import (
    CAT as CAT,
)
from ._catalogue import (
    CUT as CUT,
)
from ._catalogue import (
    DEFAULT_CATALOGUE as DEFAULT_CATALOGUE,
)
from ._catalogue import (
    ECHO as ECHO,
)
from ._catalogue import (
    ENV as ENV,
)
from ._catalogue import (
    FALSE as FALSE,
)
from ._catalogue import (
    GIT as GIT,
)
from ._catalogue import (
    GREP as GREP,
)
from ._catalogue import (
    GZIP as GZIP,
)
from ._catalogue import (
    HEAD as HEAD,
)
from ._catalogue import (
    LS as LS,
)
from ._catalogue import (
    PRINTF as PRINTF,
)
from ._catalogue import (
    PWD as PWD,
)
from ._catalogue import (
    PYTHON as PYTHON,
)
from ._catalogue import (
    RSYNC as RSYNC,
)
from ._catalogue import (
    SED as SED,
)
from ._catalogue import (
    SH as SH,
)
from ._catalogue import (
    SHA256SUM as SHA256SUM,
)
from ._catalogue import (
    SLEEP as SLEEP,
)
from ._catalogue import (
    SORT as SORT,
)
from ._catalogue import (
    TAIL as TAIL,
)
from ._catalogue import (
    TAR as TAR,
)
from ._catalogue import (
    TEE as TEE,
)
from ._catalogue import (
    TR as TR,
)
from ._catalogue import (
    TRUE as TRUE,
)
from ._catalogue import (
    UNIQ as UNIQ,
)
from ._catalogue import (
    WC as WC,
)
from ._catalogue import (
    YES as YES,
)
from ._catalogue import (
    Program as Program,
)
from ._catalogue import (
    ProgramCatalogue as ProgramCatalogue,
)
from ._catalogue import (
    ProjectSettings as ProjectSettings,
)
from ._commands import CommandBuilder as CommandBuilder
from ._commands import SafeCmd as SafeCmd
from ._concurrent import run_concurrent as run_concurrent
from ._context import ExecutionContext as ExecutionContext
from ._errors import (
    CommandFailed as CommandFailed,
)
from ._errors import (
    CuprumError as CuprumError,
)
from ._errors import (
    ForbiddenProgramError as ForbiddenProgramError,
)
from ._errors import (
    ProgramNotFoundError as ProgramNotFoundError,
)
from ._errors import (
    RemoteConnectionError as RemoteConnectionError,
)
from ._errors import (
    StreamBackendUnavailable as StreamBackendUnavailable,
)
from ._errors import (
    TimeoutExpired as TimeoutExpired,
)
from ._errors import (
    UnknownProgramError as UnknownProgramError,
)
from ._events import (
    EventPhase as EventPhase,
)
from ._events import (
    ExecEvent as ExecEvent,
)
from ._events import (
    HookHandle as HookHandle,
)
from ._interactive import Process as Process
from ._kwargs import ContextKwargs as ContextKwargs
from ._kwargs import RunKwargs as RunKwargs
from ._pipelines import Pipeline as Pipeline
from ._results import CommandResult as CommandResult
from ._results import PipelineResult as PipelineResult
from ._sh import sh as sh
from ._version import __version__ as __version__

__all__ = [
    "CAT",
    "CUT",
    "DEFAULT_CATALOGUE",
    "ECHO",
    "ENV",
    "FALSE",
    "GIT",
    "GREP",
    "GZIP",
    "HEAD",
    "LS",
    "PRINTF",
    "PWD",
    "PYTHON",
    "RSYNC",
    "SED",
    "SH",
    "SHA256SUM",
    "SLEEP",
    "SORT",
    "TAIL",
    "TAR",
    "TEE",
    "TR",
    "TRUE",
    "UNIQ",
    "WC",
    "YES",
    "CommandBuilder",
    "CommandFailed",
    "CommandResult",
    "ContextKwargs",
    "CuprumError",
    "EventPhase",
    "ExecEvent",
    "ExecutionContext",
    "ForbiddenProgramError",
    "HookHandle",
    "Pipeline",
    "PipelineResult",
    "Process",
    "Program",
    "ProgramCatalogue",
    "ProgramNotFoundError",
    "ProjectSettings",
    "RemoteConnectionError",
    "RunKwargs",
    "SafeCmd",
    "StreamBackendUnavailable",
    "TimeoutExpired",
    "UnknownProgramError",
    "__version__",
    "run_concurrent",
    "sh",
]
