"""Large transfers: byte-identical on both backends, memory flat."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from cuprum import CAT, HEAD, SHA256SUM, WC, sh
from tests.helpers import LeakChecker, rss_kib, write_random_file


@pytest.fixture(scope="module")
def random_256_mib(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    path = tmp_path_factory.mktemp("payload") / "random.bin"
    yield path, write_random_file(path, 256)
    path.unlink()


async def test_256_mib_random_payload_is_byte_identical(
    anyio_backend: str, cuprum_stream_backend: str, random_256_mib: tuple[Path, str]
) -> None:
    path, digest = random_256_mib
    cat = sh.make(CAT)
    result = await (cat(path) | cat() | cat() | sh.make(SHA256SUM)()).run(check=True)
    assert result.stdout is not None
    assert result.stdout.split()[0] == digest


async def test_256_mib_captured_is_byte_identical(
    anyio_backend: str, cuprum_stream_backend: str, random_256_mib: tuple[Path, str]
) -> None:
    path, digest = random_256_mib
    result = await (sh.make(CAT)(path) | sh.make(CAT)()).run()
    assert result.stdout_bytes is not None
    assert hashlib.sha256(result.stdout_bytes).hexdigest() == digest


async def test_a_gibibyte_through_a_pipeline_keeps_memory_flat(
    anyio_backend: str, cuprum_stream_backend: str
) -> None:
    leaks = LeakChecker()
    baseline = rss_kib()
    peak = baseline
    done = anyio.Event()

    async def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_kib())
            with anyio.move_on_after(0.02):
                await done.wait()

    cat = sh.make(CAT)
    pipeline = cat("/dev/zero") | sh.make(HEAD)("-c", str(1 << 30)) | cat() | sh.make(WC)("-c")
    async with anyio.create_task_group() as tg:
        tg.start_soon(sample)
        result = await pipeline.run()
        done.set()
    assert result.stdout == f"{1 << 30}\n"
    grown = peak - baseline
    assert grown < 32 * 1024, f"RSS grew by {grown} KiB while 1 GiB passed"
    leaks.assert_clean()
