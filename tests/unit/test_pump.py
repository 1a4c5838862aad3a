"""The Python pump's two paths (os.splice and the stream loop) move the same bytes."""

from __future__ import annotations

import hashlib
import os

import pytest

from cuprum import CAT, HEAD, sh
from cuprum import _pump as pump_module


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
