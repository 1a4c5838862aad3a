"""Synchronous mirrors of the async API, through `anyio.run`."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

import anyio
import anyio.lowlevel

__all__ = ["run_sync"]

T = TypeVar("T")


def run_sync(
    coroutine: Callable[..., Awaitable[T]], backend: str, options: Mapping[str, object]
) -> T:
    """Run ``coroutine(**options)`` on a fresh event loop of ``backend``.

    Raises
    ------
    RuntimeError
        When an event loop is already running in this thread.
    """
    try:
        anyio.lowlevel.current_token()
    except RuntimeError:
        pass  # no loop here: the one case where run_sync may start one
    else:
        raise RuntimeError(
            "run_sync() was called inside a running event loop; "
            "use `await cmd.run()` (or `await pipeline.run()`) there instead"
        )
    if backend not in ("asyncio", "trio"):
        raise ValueError(f"backend must be 'asyncio' or 'trio', got {backend!r}")
    return anyio.run(functools.partial(coroutine, **options), backend=backend)
