"""`Pipeline`: commands joined with ``|``, run as one unit."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Unpack, final

from ._commands import SafeCmd
from ._options import RunOptions

if TYPE_CHECKING:
    from ._context import ExecutionContext
    from ._interactive import Process
    from ._kwargs import OutputKwargs, RunKwargs
    from ._options import Stdin
    from ._results import PipelineResult

__all__ = ["Pipeline"]


@final
@dataclass(frozen=True, slots=True)
class Pipeline:
    """Commands whose stdout feeds the next one's stdin, like ``a | b | c``.

    Build it with ``|`` on `SafeCmd` objects; it is flat and immutable.

    Attributes
    ----------
    stages : tuple[SafeCmd, ...]
        The commands, in order.
    """

    stages: tuple[SafeCmd, ...]

    def __post_init__(self) -> None:
        for stage in self.stages:
            if not isinstance(stage, SafeCmd):  # pyright: ignore[reportUnnecessaryIsInstance]
                raise TypeError(f"pipeline stages must be SafeCmd, got {type(stage).__name__}")

    def __or__(self, other: SafeCmd | Pipeline) -> Pipeline:
        match other:
            case SafeCmd():
                return Pipeline(stages=(*self.stages, other))
            case Pipeline():
                return Pipeline(stages=(*self.stages, *other.stages))
            case _:  # pyright: ignore[reportUnnecessaryComparison]
                return NotImplemented

    def __repr__(self) -> str:
        return " | ".join(repr(stage) for stage in self.stages)

    async def run(
        self,
        *,
        capture: bool = True,
        echo: bool = False,
        stdin: Stdin = None,
        context: ExecutionContext | None = None,
        timeout: float | None = None,
        check: bool = False,
        **options: Unpack[OutputKwargs],
    ) -> PipelineResult:
        """Run every stage at once, in one task group, and return the result.

        Takes the options of `SafeCmd.run`: the last stage's stdout is
        captured (or echoed, or redirected), every stage's stderr is captured
        on its own, ``stdin`` feeds the first stage, ``ok_codes`` applies to
        every stage that sets none itself.

        Returns
        -------
        PipelineResult

        Raises
        ------
        TimeoutExpired
            With the partial `PipelineResult`.
        CommandFailed
            With ``check=True`` when a stage failed on its own.

        Cancellation
        ------------
        Every stage's process group gets SIGTERM, then SIGKILL after
        ``cancel_grace``; the pumps stop (a Rust pump through its cancel
        descriptor), every child is reaped and every pipe closed, shielded,
        before the cancellation propagates.
        """
        from ._execution import run_pipeline

        run_options = RunOptions.build(
            capture=capture, echo=echo, stdin=stdin, context=context, timeout=timeout,
            check=check, **options,
        )  # fmt: skip
        return await run_pipeline(self.stages, run_options, single=False)

    def run_sync(self, *, backend: str = "asyncio", **options: Unpack[RunKwargs]) -> PipelineResult:
        """Run the pipeline with `anyio.run` from synchronous code.

        Raises
        ------
        RuntimeError
            When called from inside a running event loop.
        """
        from ._sync import run_sync

        return run_sync(self.run, backend, options)

    def open(
        self,
        *,
        stdin: Stdin | bool = True,
        stdout: bool = True,
        context: ExecutionContext | None = None,
        timeout: float | None = None,
        encoding: str = "utf-8",
        errors: str = "replace",
    ) -> Process:
        """Start the pipeline for interaction, streaming the last stage."""
        from ._interactive import Process

        return Process.for_stages(
            self.stages, stdin=stdin, stdout=stdout, stderr=True, context=context,
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
        """Stream the last stage's stdout as decoded lines (see `SafeCmd.lines`)."""
        from ._interactive import iterate_lines

        return iterate_lines(
            self.stages, stdin=stdin, context=context, timeout=timeout,
            encoding=encoding, errors=errors, split_cr=split_cr,
        )  # fmt: skip

    def with_ok_codes(self, codes: Iterable[int]) -> Pipeline:
        """Return a copy in which every stage counts ``codes`` as success."""
        return Pipeline(stages=tuple(stage.with_ok_codes(codes) for stage in self.stages))
