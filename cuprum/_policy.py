"""The failure policy: how each stage ended, and what that makes of the run.

One function classifies a stage's end from facts the engine, the pumps and
the transport's child report; every path (`run`, `open`, `lines`) uses it,
so a result's ``ok``, a pipeline's ``failure`` and the decision to stop the
other stages never disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._transport import ChildProcess

__all__ = ["StageEnd", "classify", "first_failure"]


class StageEnd(StrEnum):
    """How one stage ended."""

    RUNNING = "running"
    """Not reaped yet, or never started."""
    OK = "ok"
    """Its exit code is one of its ok codes."""
    EXCUSED = "excused"
    """Not the last stage, and it ended because its reader left (SIGPIPE)."""
    ENDED_BY_CUPRUM = "ended_by_cuprum"
    """cuprum's signal ended it (timeout, cancellation, another stage failed)."""
    FAILED = "failed"
    """It failed on its own: the pipeline's failure."""

    @property
    def ok(self) -> bool:
        """True for the ends that count as success in a result."""
        return self in (StageEnd.OK, StageEnd.EXCUSED)


def classify(
    child: ChildProcess | None,
    ok_codes: frozenset[int],
    *,
    last: bool,
    downstream_done: bool = False,
) -> StageEnd:
    """Classify a stage's end.

    Parameters
    ----------
    child : ChildProcess | None
        The stage's child (None: never spawned).
    ok_codes : frozenset[int]
        The exit codes that count as success.
    last : bool
        The stage is the pipeline's last (nobody downstream to leave).
    downstream_done : bool
        Every later stage has ended, or the pump downstream reported that
        its reader left.
    """
    if child is None:
        return StageEnd.RUNNING
    code = child.returncode
    if code is None:
        return StageEnd.RUNNING
    if code in ok_codes:
        return StageEnd.OK
    if not last and child.lost_its_reader(downstream_done):
        return StageEnd.EXCUSED
    if child.ended_by_cuprum():
        return StageEnd.ENDED_BY_CUPRUM
    return StageEnd.FAILED


def first_failure(ends: Sequence[StageEnd]) -> int | None:
    """The index of the first stage that failed on its own, if any."""
    for index, end in enumerate(ends):
        if end is StageEnd.FAILED:
            return index
    return None
