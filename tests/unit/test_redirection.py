"""Redirection to paths and files, stderr merging, ok_codes and max_output."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from cuprum import CAT, CommandFailed, sh, unsafe
from tests.helpers import LeakChecker


def py(code: str):
    return unsafe.dynamic([sys.executable, "-c", code])


BOTH = "import sys\nsys.stdout.write('out\\n'); sys.stdout.flush()\nsys.stderr.write('err\\n')"


async def test_stdout_to_path_truncates_and_append_appends(
    anyio_backend: str, tmp_path: Path
) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old content that must go\n")
    result = await py(BOTH).run(stdout=target)
    assert target.read_text() == "out\n"
    assert result.stdout is None
    assert result.stdout_bytes is None
    assert result.stderr == "err\n"
    await py(BOTH).run(stdout=target, append=True)
    assert target.read_text() == "out\nout\n"


async def test_stdout_and_stderr_to_open_binary_files(anyio_backend: str, tmp_path: Path) -> None:
    with (tmp_path / "o").open("wb") as out, (tmp_path / "e").open("wb") as err:
        out.write(b"before\n")
        result = await py(BOTH).run(stdout=out, stderr=err)
    assert (tmp_path / "o").read_bytes() == b"before\nout\n"
    assert (tmp_path / "e").read_bytes() == b"err\n"
    assert result.stdout is None
    assert result.stderr is None


async def test_stderr_merged_into_stdout_in_order(anyio_backend: str) -> None:
    code = (
        "import sys\n"
        "for i in range(3):\n"
        "    sys.stdout.write(f'o{i}\\n'); sys.stdout.flush()\n"
        "    sys.stderr.write(f'e{i}\\n'); sys.stderr.flush()\n"
    )
    result = await py(code).run(stderr="stdout")
    assert result.stdout == "o0\ne0\no1\ne1\no2\ne2\n"
    assert result.stderr is None


async def test_relative_redirect_path_resolves_against_parent_cwd(
    anyio_backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    child_dir = tmp_path / "elsewhere"
    child_dir.mkdir()
    await sh.make(CAT)().run(stdin=b"data", stdout=Path("rel.txt"), context=None)
    assert (tmp_path / "rel.txt").read_bytes() == b"data"


def test_str_redirect_target_is_refused() -> None:
    with pytest.raises(TypeError, match=r"pathlib\.Path"):
        sh.make(CAT)().run_sync(stdout="out.txt")  # type: ignore[arg-type]


def test_text_mode_file_is_refused(tmp_path: Path) -> None:
    with (tmp_path / "t").open("w") as handle, pytest.raises(TypeError, match="binary"):
        sh.make(CAT)().run_sync(stdout=handle)  # type: ignore[arg-type]


async def test_ok_codes_on_run_and_on_command(anyio_backend: str) -> None:
    failing = unsafe.dynamic(["sh", "-c", "exit 3"])
    assert not (await failing.run()).ok
    assert (await failing.run(ok_codes={0, 3})).ok
    assert (await failing.with_ok_codes({3}).run(check=True)).exit_code == 3
    with pytest.raises(CommandFailed):
        await failing.run(check=True)


async def test_ok_codes_apply_to_every_pipeline_stage(anyio_backend: str) -> None:
    pipeline = unsafe.dynamic(["sh", "-c", "echo x; exit 1"]) | sh.make(CAT)()
    assert not (await pipeline.run()).ok
    result = await pipeline.run(ok_codes={0, 1})
    assert result.ok
    assert result.stdout == "x\n"


@pytest.mark.parametrize("limit", [0, 1, 1000, 65536, 65537])
async def test_max_output_keeps_the_first_bytes_and_says_truncated(
    anyio_backend: str, cuprum_stream_backend: str, limit: int
) -> None:
    payload = bytes(range(256)) * 1024  # 256 KiB
    result = await sh.make(CAT)().run(stdin=payload, max_output=limit)
    assert result.stdout_bytes == payload[:limit]
    assert result.truncated is True


async def test_max_output_not_reached_is_not_truncated(
    anyio_backend: str, cuprum_stream_backend: str
) -> None:
    result = await sh.make(CAT)().run(stdin=b"small", max_output=100)
    assert result.stdout_bytes == b"small"
    assert result.truncated is False


async def test_runaway_child_with_max_output_does_not_exhaust_memory(
    anyio_backend: str, cuprum_stream_backend: str
) -> None:
    leaks = LeakChecker()
    result = await unsafe.dynamic(["head", "-c", str(256 << 20), "/dev/zero"]).run(max_output=4096)
    assert result.ok
    assert result.truncated
    assert result.stdout_bytes == b"\0" * 4096
    leaks.assert_clean()


def test_negative_max_output_is_refused() -> None:
    with pytest.raises(ValueError, match="max_output"):
        sh.make(CAT)().run_sync(max_output=-1)


_MIB = 1 << 20
# Around the first read (64 KiB), the largest read (1 MiB) and the pipe size.
_SIZES = [0, 1, (1 << 16) - 1, 1 << 16, (1 << 16) + 1, _MIB - 1, _MIB, _MIB + 1, 3 * _MIB + 7]


@pytest.mark.parametrize("size", _SIZES)
async def test_capture_is_exact_around_the_read_sizes(
    anyio_backend: str, cuprum_stream_backend: str, size: int, tmp_path: Path
) -> None:
    path = tmp_path / "payload"
    payload = os.urandom(size)
    path.write_bytes(payload)
    result = await sh.make(CAT)(str(path)).run()
    assert type(result.stdout_bytes) is bytes
    assert result.stdout_bytes == payload
    assert not result.truncated
    for limit in (size - 1, size, (1 << 16) + 1):
        if limit < 0:
            continue
        bounded = await sh.make(CAT)(str(path)).run(max_output=limit)
        assert bounded.stdout_bytes == payload[:limit]
        assert bounded.truncated == (size > limit)
