"""Builders that turn Python values into an argv, and `SafeCmd`."""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Unpack, cast, final

from ._catalogue import DEFAULT_CATALOGUE, Program, ProgramCatalogue
from ._context import ExecutionContext, Local
from ._options import RunOptions, check_ok_codes

if TYPE_CHECKING:
    from ._interactive import Process
    from ._kwargs import ContextKwargs, RunKwargs
    from ._options import Output, Stdin
    from ._pipelines import Pipeline
    from ._results import CommandResult
    from ._transport import Transport

__all__ = ["CommandBuilder", "SafeCmd", "flag_entries", "to_argv_entry"]


def to_argv_entry(value: object, *, what: str = "argument") -> str:
    """Convert one Python value into an argv entry, or raise.

    Raises
    ------
    TypeError
        For None, bool and types that have no faithful text form.
    ValueError
        For a value containing a NUL byte, or bytes that do not decode with
        the filesystem encoding.
    """
    if value is None:
        raise TypeError(f"{what} is None; pass a value or leave it out")
    if isinstance(value, bool):
        raise TypeError(f"{what} is a bool ({value}); use a flag instead")
    if isinstance(value, str):
        text = value
    elif isinstance(value, (int, float)):
        text = str(value)
    elif isinstance(value, bytes):
        text = _decode_fs(value, what)
    elif isinstance(value, os.PathLike):
        raw = cast("str | bytes", os.fspath(value))  # pyright: ignore[reportUnknownArgumentType]
        text = _decode_fs(raw, what) if isinstance(raw, bytes) else os.fsdecode(raw)
    else:
        raise TypeError(
            f"{what} of type {type(value).__name__} cannot be an argv entry "
            "(use str, int, float, bytes or os.PathLike)"
        )
    if "\0" in text:
        raise ValueError(f"{what} {text!r} contains a NUL byte")
    return text


def _decode_fs(value: bytes, what: str) -> str:
    encoding = sys.getfilesystemencoding()
    try:
        return value.decode(encoding)
    except UnicodeDecodeError:
        raise ValueError(
            f"{what} {value!r} does not decode with the filesystem encoding {encoding}"
        ) from None


def flag_entries(name: str, value: object) -> tuple[str, ...]:
    """Turn ``name=value`` into argv entries (none when left out).

    A one-letter name is a short option, as every POSIX tool reads it:
    ``l=True`` gives ``-l`` and ``n=1`` gives ``-n``, ``1``. A longer name
    is a long option: ``max_count=2`` gives ``--max-count=2``.
    """
    short = len(name) == 1
    option = ("-" if short else "--") + name.replace("_", "-")
    match value:
        case None:
            raise TypeError(f"flag {name}=None: pass True, False or a value")
        case True:
            return (option,)
        case False:
            return ()
        case _:
            text = to_argv_entry(value, what=f"flag {name}")
            return (option, text) if short else (f"{option}={text}",)


@final
@dataclass(frozen=True, slots=True)
class SafeCmd:
    """A command ready to run: a program and its argv, never a shell string.

    Build it with a builder from `sh.make` (or `cuprum.unsafe.dynamic`);
    values are immutable and hashable, and one command may run many
    times, also at once.

    Attributes
    ----------
    program : Program
        The program as named in the catalogue.
    argv : tuple[str, ...]
        The full argv, program first.
    context : ExecutionContext | None
        The command's default context (see `with_context`).
    ok_codes : frozenset[int] | None
        Exit codes that count as success (None: just 0).
    unsafe : bool
        True for commands built outside the catalogue.
    """

    program: Program
    argv: tuple[str, ...]
    context: ExecutionContext | None = None
    ok_codes: frozenset[int] | None = None
    unsafe: bool = False
    host: Transport | Local | None = None

    def __repr__(self) -> str:
        return shlex.join(self.argv)

    def with_context(
        self, context: ExecutionContext | None = None, **fields: Unpack[ContextKwargs]
    ) -> SafeCmd:
        """Return a copy whose default context is ``context`` (or built from fields).

        The new context is laid over the command's current one.
        """
        extra = ExecutionContext(**fields) if fields else None
        base = self.context or ExecutionContext()
        return replace(self, context=base.merged(context).merged(extra))

    def with_ok_codes(self, codes: Iterable[int]) -> SafeCmd:
        """Return a copy for which the exit codes in ``codes`` count as success."""
        return replace(self, ok_codes=check_ok_codes(codes))

    def on(self, host: Transport | Local | None) -> SafeCmd:
        """Return a copy that runs on ``host``.

        Parameters
        ----------
        host : cuprum.remote.SSHHost | cuprum.remote.LOCAL | None
            A connected remote host; `cuprum.remote.LOCAL` to run here
            whatever the run's context or the scope say; None to inherit.
        """
        return replace(self, host=host)

    def __or__(self, other: SafeCmd | Pipeline) -> Pipeline:
        from ._pipelines import Pipeline

        return Pipeline(stages=(self,)) | other

    async def run(
        self,
        *,
        capture: bool = True,
        echo: bool = False,
        stdin: Stdin = None,
        stdout: Output = None,
        stderr: Output = None,
        append: bool = False,
        context: ExecutionContext | None = None,
        timeout: float | None = None,
        check: bool = False,
        ok_codes: Iterable[int] | None = None,
        max_output: int | None = None,
        encoding: str = "utf-8",
        errors: str = "replace",
    ) -> CommandResult:
        """Run the command to completion and return its result.

        Parameters
        ----------
        capture : bool
            Keep stdout and stderr in the result.
        echo : bool
            Copy the child's output to this process's stdout/stderr as it
            arrives (works together with ``capture``).
        stdin : bytes | str | os.PathLike | ByteReceiveStream | AsyncIterable[bytes] | None
            What the child reads; None gives it ``/dev/null``.
        stdout, stderr : os.PathLike | BinaryIO | None
            Redirect a stream to a path or open binary file; ``stderr="stdout"``
            merges stderr into stdout.
        append : bool
            Append to redirected paths instead of truncating them.
        context : ExecutionContext | None
            Laid over the command's and the scope's contexts.
        timeout : float | None
            Seconds; overrides the context's and the scope's timeouts.
        check : bool
            Raise `CommandFailed` when the result is not ok.
        ok_codes : Iterable[int] | None
            Exit codes that count as success (default ``{0}``).
        max_output : int | None
            Keep at most this many bytes per captured stream.
        encoding, errors : str
            How output is decoded (and a str ``stdin`` encoded).

        Returns
        -------
        CommandResult

        Raises
        ------
        ProgramNotFoundError, PermissionError
            The program cannot be found or executed.
        FileNotFoundError, NotADirectoryError
            The working directory does not exist.
        TimeoutExpired
            The timeout expired; ``.result`` holds the partial output.
        CommandFailed
            With ``check=True``, when the exit code is not an ok code.

        Cancellation
        ------------
        If the calling task is cancelled, the child's process group gets
        SIGTERM, then SIGKILL after ``cancel_grace``; the child is reaped
        and every pipe closed (shielded) before the cancellation propagates.
        """
        from ._execution import run_pipeline

        options = RunOptions.build(
            capture=capture, echo=echo, stdin=stdin, stdout=stdout, stderr=stderr,
            append=append, context=context, timeout=timeout, check=check,
            ok_codes=ok_codes, max_output=max_output, encoding=encoding, errors=errors,
        )  # fmt: skip
        result = await run_pipeline((self,), options)
        return result.stages[0]

    def run_sync(self, *, backend: str = "asyncio", **options: Unpack[RunKwargs]) -> CommandResult:
        """Run the command with `anyio.run` from synchronous code.

        Takes the same keyword arguments as `run`, plus ``backend``
        (``"asyncio"`` or ``"trio"``).

        Raises
        ------
        RuntimeError
            When called from inside a running event loop (use ``await
            cmd.run()`` there).
        """
        from ._sync import run_sync

        return run_sync(self.run, backend, options)

    def open(
        self,
        *,
        stdin: Stdin | bool = True,
        stdout: Output | bool = True,
        stderr: Output | bool = True,
        context: ExecutionContext | None = None,
        timeout: float | None = None,
        encoding: str = "utf-8",
        errors: str = "replace",
    ) -> Process:
        """Start the command for interaction: ``async with cmd.open() as proc``.

        See `cuprum.Process` for what the running process offers.
        """
        from ._interactive import Process

        return Process.for_stages(
            (self,), stdin=stdin, stdout=stdout, stderr=stderr, context=context,
            timeout=timeout, encoding=encoding, errors=errors,
        )  # fmt: skip

    def lines(
        self,
        *,
        stdin: Stdin = None,
        context: ExecutionContext | None = None,
        timeout: float | None = None,
        encoding: str = "utf-8",
        errors: str = "replace",
        split_cr: bool = False,
    ) -> AsyncIterator[str]:
        """Stream the command's stdout as decoded lines, without keeping them.

        Lines come without their ``\\n`` / ``\\r\\n`` (with ``split_cr``, a
        lone ``\\r`` ends a line too). After the last line the exit status
        is checked.

        Raises
        ------
        CommandFailed
            After the last line, when the exit code is not an ok code.
        TimeoutExpired
            When the whole iteration takes longer than ``timeout``.

        Cancellation
        ------------
        Leaving the loop early (break, error, cancellation) terminates and
        reaps the child.
        """
        from ._interactive import iterate_lines

        return iterate_lines(
            (self,), stdin=stdin, context=context, timeout=timeout,
            encoding=encoding, errors=errors, split_cr=split_cr,
        )  # fmt: skip


@final
class CommandBuilder:
    """Builds `SafeCmd` objects for one program: ``builder(*args, **flags)``.

    Positional arguments become argv entries as they are; keyword flags
    ``name_with_underscores=value`` become ``--name-with-underscores=value``
    (``True``: ``--name``; ``False``: left out) and come before the
    positional arguments. A one-letter flag is a short option: ``l=True``
    gives ``-l``, ``n=1`` gives ``-n``, ``1``.
    """

    __slots__ = ("_catalogue", "_program")

    def __init__(self, program: Program, catalogue: ProgramCatalogue = DEFAULT_CATALOGUE) -> None:
        self._program = program
        self._catalogue = catalogue

    @property
    def program(self) -> Program:
        """The program this builder makes commands for."""
        return self._program

    def __repr__(self) -> str:
        return f"CommandBuilder({self._program!r})"

    def __call__(self, *args: object, **flags: object) -> SafeCmd:
        argv: list[str] = [self._program]
        for name, value in flags.items():
            argv.extend(flag_entries(name, value))
        argv.extend(to_argv_entry(arg, what=f"argument {index}") for index, arg in enumerate(args))
        return SafeCmd(program=self._program, argv=tuple(argv))
