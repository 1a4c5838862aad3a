"""The stream backends behind one interface: a `Pumper` per backend, per run.

A run asks its pumper (`pumper_for` the resolved backend) for the transfer
between two stages and, where the backend has one, for a bulk reader of
captured output; the pumper owns the cancel tokens its transfers need and
closes them when the run is over. Nothing else in the engine asks which
backend is in force: a new backend is one more `Pumper` here.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, final

from ._backend import StreamBackend
from ._pump import CancelToken, PumpEnd, python_pump, rust_consume, rust_pump

if TYPE_CHECKING:
    from ._capture import Capture
    from ._fdstream import FdReceiveStream, FdSendStream

__all__ = ["Pumper", "PythonPumper", "RustPumper", "Transfer", "pumper_for"]


@final
@dataclass(frozen=True, slots=True)
class Transfer:
    """One byte-moving job of a run: how to run it, and how to stop it from outside.

    ``stop`` is for what the loop's cancellation cannot reach (a worker
    thread); cancelling the task that runs ``run`` does the rest.
    """

    run: Callable[[], Awaitable[PumpEnd | None]]
    stop: Callable[[], None] | None = None


class Pumper(Protocol):
    """A stream backend for one run."""

    def pump(
        self, source: FdReceiveStream, sink: FdSendStream, on_bytes: Callable[[int], None]
    ) -> Transfer:
        """Move ``source`` into ``sink`` until end of file (a pipe between stages)."""
        ...

    def consume(self, source: FdReceiveStream, capture: Capture) -> Transfer | None:
        """Read ``source`` into ``capture`` in bulk; None: read it in Python."""
        ...

    def close(self) -> None:
        """Release what the transfers held (once every transfer has returned)."""
        ...


@final
class PythonPumper:
    """The pure Python backend: everything on the event loop."""

    __slots__ = ()

    def pump(
        self, source: FdReceiveStream, sink: FdSendStream, on_bytes: Callable[[int], None]
    ) -> Transfer:
        """A Python pump (splice between pipes where the kernel has it)."""
        return Transfer(functools.partial(python_pump, source, sink, on_bytes))

    def consume(self, source: FdReceiveStream, capture: Capture) -> None:
        """No bulk reader: captured output is read on the loop."""

    def close(self) -> None:
        """Nothing to release."""


@final
class RustPumper:
    """The Rust backend: blocking calls in worker threads, each with its cancel token."""

    __slots__ = ("_tokens",)

    def __init__(self) -> None:
        self._tokens: list[CancelToken] = []

    def _token(self) -> CancelToken:
        token = CancelToken()
        self._tokens.append(token)
        return token

    def pump(
        self, source: FdReceiveStream, sink: FdSendStream, on_bytes: Callable[[int], None]
    ) -> Transfer:
        """A Rust pump (splice on Linux) in a worker thread."""
        token = self._token()
        return Transfer(functools.partial(rust_pump, source, sink, token, on_bytes), token.trigger)

    def consume(self, source: FdReceiveStream, capture: Capture) -> Transfer:
        """The Rust ``consume`` call, after a first read on the loop."""
        token = self._token()

        async def run() -> None:
            await rust_consume(source, capture, token)

        return Transfer(run, token.trigger)

    def close(self) -> None:
        """Close every cancel token (each thread that polled one has returned)."""
        tokens, self._tokens = self._tokens, []
        for token in tokens:
            token.close()


def pumper_for(backend: StreamBackend) -> Pumper:
    """The pumper of ``backend``, for one run."""
    if backend is StreamBackend.RUST:
        return RustPumper()
    return PythonPumper()
