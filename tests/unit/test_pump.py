"""The Python pump's two paths (os.splice and the stream loop) move the same bytes."""

from __future__ import annotations

import errno
import hashlib
import os

import anyio
import pytest

from cuprum import CAT, HEAD, sh
from cuprum import _pump as pump_module
from cuprum._fdstream import FdReceiveStream, FdSendStream, make_pipe
from cuprum.streams import StreamBackend
from tests.helpers import RUST_AVAILABLE


@pytest.mark.parametrize("use_splice", [True, False], ids=["splice", "streams"])
async def test_python_pump_paths_are_byte_identical(
    anyio_backend: str, monkeypatch: pytest.MonkeyPatch, use_splice: bool
) -> None:
    monkeypatch.setenv("CUPRUM_STREAM_BACKEND", "python")
    monkeypatch.setattr(pump_module, "_HAS_SPLICE", use_splice and hasattr(os, "splice"))
    payload = os.urandom(3 << 20) + b"tail"
    cat = sh.make(CAT)
    result = await (cat() | cat() | cat()).run(stdin=payload)
    assert result.ok
    assert hashlib.sha256(result.stdout_bytes or b"").digest() == hashlib.sha256(payload).digest()
    early = await (cat("/dev/zero") | sh.make(HEAD)("-c", "5")).run()
    assert early.ok
    assert early.stdout_bytes == b"\0" * 5


def test_splice_pump_falls_back_when_splice_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    import anyio

    def refuse(*_args: object, **_kwargs: object) -> int:
        raise OSError(errno.EINVAL, "Invalid argument")

    monkeypatch.setenv("CUPRUM_STREAM_BACKEND", "python")
    monkeypatch.setattr(pump_module.os, "splice", refuse, raising=False)
    monkeypatch.setattr(pump_module, "_HAS_SPLICE", True)

    async def main() -> bytes | None:
        result = await (sh.make(CAT)() | sh.make(CAT)()).run(stdin=b"fallback works")
        return result.stdout_bytes

    assert anyio.run(main) == b"fallback works"


PumpEnd = pump_module.PumpEnd
needs_rust = pytest.mark.skipif(not RUST_AVAILABLE, reason="Rust extension not built")


async def _pump_fed(
    backend: StreamBackend, payload: bytes, *, downstream_left: bool
) -> tuple[PumpEnd, int, bytes]:
    """Pump ``payload`` (then end of file) between two pipes.

    Return the end, the bytes counted and what arrived downstream.
    """
    up_r, up_w = make_pipe()
    down_r, down_w = make_pipe()
    os.write(up_w, payload)
    os.close(up_w)
    if downstream_left:
        os.close(down_r)
    source, sink = FdReceiveStream(up_r), FdSendStream(down_w)
    token = pump_module.CancelToken()
    counted: list[int] = []
    try:
        with anyio.fail_after(10):
            end = await pump_module.pump(source, sink, backend, token, counted.append)
    finally:
        source.close()
        sink.close()
        token.close()
    delivered = b""
    if not downstream_left:
        delivered = os.read(down_r, 1 << 16)
        os.close(down_r)
    return end, sum(counted), delivered


async def test_pump_returns_eof_at_end_of_input(
    anyio_backend: str, cuprum_stream_backend: str
) -> None:
    payload = os.urandom(10_000)
    end, counted, delivered = await _pump_fed(
        StreamBackend(cuprum_stream_backend), payload, downstream_left=False
    )
    assert end is PumpEnd.EOF
    assert counted == len(payload)
    assert delivered == payload


async def test_pump_returns_writer_gone_when_downstream_left(
    anyio_backend: str, cuprum_stream_backend: str
) -> None:
    end, counted, _ = await _pump_fed(
        StreamBackend(cuprum_stream_backend), b"nobody reads this", downstream_left=True
    )
    assert end is PumpEnd.WRITER_GONE
    assert counted == 0


async def test_python_stream_loop_reports_eof_and_writer_gone(
    anyio_backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pump_module, "_HAS_SPLICE", False)
    payload = b"through the stream loop"
    assert await _pump_fed(StreamBackend.PYTHON, payload, downstream_left=False) == (
        PumpEnd.EOF,
        len(payload),
        payload,
    )
    end, _, _ = await _pump_fed(StreamBackend.PYTHON, payload, downstream_left=True)
    assert end is PumpEnd.WRITER_GONE


async def _read_ready(fd: int) -> bytes:
    with anyio.fail_after(10):
        await anyio.wait_readable(fd)
    return os.read(fd, 1 << 16)


async def _rust_pump_after_hello(*, fail_writer: bool) -> tuple[PumpEnd | OSError, list[int]]:
    """Run the Rust pump until it has delivered b"hello", then stop it.

    It is stopped through its token or, with ``fail_writer``, by swapping
    its writer for a read-only descriptor (the next write fails with EBADF).
    Return what the pump returned (or raised) and what ``on_bytes`` saw.
    """
    up_r, up_w = make_pipe()
    down_r, down_w = make_pipe()
    os.set_blocking(down_r, False)
    source, sink = FdReceiveStream(up_r), FdSendStream(down_w)
    token = pump_module.CancelToken()
    counted: list[int] = []
    outcome: list[PumpEnd | OSError] = []

    async def run() -> None:
        try:
            outcome.append(
                await pump_module.pump(source, sink, StreamBackend.RUST, token, counted.append)
            )
        except OSError as exc:
            outcome.append(exc)

    read_only = os.open(os.devnull, os.O_RDONLY)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(run)
            try:
                os.write(up_w, b"hello")
                assert await _read_ready(down_r) == b"hello"
                if fail_writer:
                    os.dup2(read_only, sink.fileno)
                    os.write(up_w, b"more")
                    with anyio.fail_after(10):
                        while not outcome:
                            await anyio.sleep(0.01)
            finally:
                token.trigger()  # never leave the worker thread running
    finally:
        for fd in (up_w, down_r, read_only):
            os.close(fd)
        source.close()
        sink.close()
        token.close()
    assert len(outcome) == 1
    return outcome[0], counted


@needs_rust
async def test_rust_pump_returns_cancelled_with_the_count(anyio_backend: str) -> None:
    end, counted = await _rust_pump_after_hello(fail_writer=False)
    assert end is PumpEnd.CANCELLED
    assert counted == [5]


@needs_rust
async def test_rust_pump_counts_bytes_before_an_oserror(anyio_backend: str) -> None:
    error, counted = await _rust_pump_after_hello(fail_writer=True)
    assert isinstance(error, OSError)
    assert error.errno == errno.EBADF
    assert getattr(error, "moved", None) == 5
    assert counted == [5]
