"""The scope decides what may run: allowlists checked at run time, hook order."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

import cuprum.unsafe
from cuprum import (
    CAT,
    ECHO,
    SH,
    ForbiddenProgramError,
    SafeCmd,
    run_concurrent,
    sh,
)
from tests.helpers import LeakChecker

# Built at import time, long before any scope: the usual module-level shape.
echo = sh.make(ECHO)
cat = sh.make(CAT)
shell = sh.make(SH)


def toucher(path: Path) -> SafeCmd:
    """A command that leaves ``path`` behind if it ever runs."""
    return shell("-c", 'touch "$0"', str(path))


class StdinProbe:
    """An async iterable stdin that records whether anyone read it."""

    def __init__(self) -> None:
        self.read = False

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        self.read = True
        yield b"data\n"


async def test_run_refuses_a_command_built_before_the_scope(
    anyio_backend: str, tmp_path: Path, leak_check: LeakChecker
) -> None:
    marker = tmp_path / "ran"
    probe = StdinProbe()
    called: list[SafeCmd] = []
    with sh.scoped(allowlist={CAT}), sh.before(called.append):
        with pytest.raises(ForbiddenProgramError, match="'sh'") as caught:
            await toucher(marker).run(stdin=probe)
        assert (await cat().run(stdin=b"still fine")).stdout == "still fine"
    assert caught.value.program == "sh"
    assert not marker.exists()
    assert not probe.read
    assert [c.program for c in called] == ["cat"]  # hooks never saw the refused one


async def test_pipeline_refused_when_any_stage_is_outside(
    anyio_backend: str, cuprum_stream_backend: str, tmp_path: Path, leak_check: LeakChecker
) -> None:
    marker = tmp_path / "ran"
    probe = StdinProbe()
    with sh.scoped(allowlist={CAT, SH}), sh.scoped(allowlist={CAT}):
        with pytest.raises(ForbiddenProgramError, match="'sh'"):
            await (cat() | toucher(marker)).run(stdin=probe)
        with pytest.raises(ForbiddenProgramError, match="'echo'"):
            await (echo("x") | cat()).run()
    assert not marker.exists()
    assert not probe.read
    with sh.scoped(allowlist={CAT, ECHO}):
        result = await (echo("through") | cat()).run()
    assert result.stdout == "through\n"


async def test_open_and_lines_are_refused_before_spawning(
    anyio_backend: str, tmp_path: Path, leak_check: LeakChecker
) -> None:
    marker = tmp_path / "ran"
    probe = StdinProbe()
    with sh.scoped(allowlist={CAT}):
        with pytest.raises(ForbiddenProgramError):
            async with toucher(marker).open():
                pytest.fail("the block must not be entered")
        with pytest.raises(ForbiddenProgramError):
            async with (cat() | toucher(marker)).open():
                pytest.fail("the block must not be entered")
        with pytest.raises(ForbiddenProgramError):
            await anext(toucher(marker).lines(stdin=probe))
        with pytest.raises(ForbiddenProgramError):
            await anext((cat() | toucher(marker)).lines())
    assert not marker.exists()
    assert not probe.read


async def test_run_concurrent_refuses_before_the_first_starts(
    anyio_backend: str, tmp_path: Path, leak_check: LeakChecker
) -> None:
    first, last = tmp_path / "first", tmp_path / "last"
    allowed_marker = shell("-c", 'touch "$0"', str(first))
    with sh.scoped(allowlist={SH}):
        commands = [allowed_marker, echo("not allowed"), toucher(last)]
        with pytest.raises(ForbiddenProgramError, match="'echo'"):
            await run_concurrent(commands, limit=1)
    assert not first.exists()
    assert not last.exists()


async def test_tasks_started_in_the_scope_are_checked(anyio_backend: str, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    errors: list[BaseException] = []

    async def attempt() -> None:
        try:
            await toucher(marker).run()
        except ForbiddenProgramError as exc:
            errors.append(exc)

    with sh.scoped(allowlist={CAT}):
        async with anyio.create_task_group() as tg:
            tg.start_soon(attempt)
    assert len(errors) == 1
    assert not marker.exists()


async def test_unsafe_commands_obey_the_scope_at_run_time(
    anyio_backend: str, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    with sh.scoped(allowlist={CAT}):
        cmd = cuprum.unsafe.dynamic(["sh", "-c", 'touch "$0"', str(marker)])  # builds
        with pytest.raises(ForbiddenProgramError):
            await cmd.run()
    assert not marker.exists()


def test_run_sync_is_checked(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    with sh.scoped(allowlist={CAT}):
        for loop in ("asyncio", "trio"):
            with pytest.raises(ForbiddenProgramError):
                toucher(marker).run_sync(backend=loop)
            with pytest.raises(ForbiddenProgramError):
                (cat() | toucher(marker)).run_sync(backend=loop)
    assert not marker.exists()


async def test_the_same_command_runs_again_outside_the_scope(anyio_backend: str) -> None:
    with sh.scoped(allowlist={CAT}), pytest.raises(ForbiddenProgramError):
        await echo("x").run()
    assert (await echo("x").run()).stdout == "x\n"


async def test_after_hooks_unwind_inner_scope_first(anyio_backend: str) -> None:
    order: list[str] = []
    with (
        sh.scoped(),
        sh.before(lambda cmd: order.append("before outer")),
        sh.after(lambda cmd, result: order.append("after outer")),
        sh.scoped(),
        sh.before(lambda cmd: order.append("before inner")),
        sh.after(lambda cmd, result: order.append("after inner")),
    ):
        await echo("x").run()
    assert order == ["before outer", "before inner", "after inner", "after outer"]
