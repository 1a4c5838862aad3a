"""Before and after hooks (SPEC section 8): order, pipelines, lines, open and failures."""

from __future__ import annotations

import os
from pathlib import Path

import anyio
import pytest

from cuprum import (
    CAT,
    ECHO,
    FALSE,
    TRUE,
    CommandFailed,
    CommandResult,
    ExecEvent,
    SafeCmd,
    sh,
    unsafe,
)
from tests.helpers import LeakChecker, child_pids, python_child

pytestmark = pytest.mark.usefixtures("no_registration_leaks")


def py(code: str) -> SafeCmd:
    return unsafe.dynamic(python_child(code))


async def test_before_and_after_hooks_sync_and_async(anyio_backend: str) -> None:
    calls: list[tuple[str, SafeCmd, CommandResult | None]] = []

    def before(cmd: SafeCmd) -> None:
        calls.append(("before", cmd, None))

    async def abefore(cmd: SafeCmd) -> None:
        await anyio.sleep(0)
        calls.append(("abefore", cmd, None))

    def after(cmd: SafeCmd, result: CommandResult) -> None:
        calls.append(("after", cmd, result))

    async def aafter(cmd: SafeCmd, result: CommandResult) -> None:
        await anyio.sleep(0)
        calls.append(("aafter", cmd, result))

    cmd = sh.make(ECHO)("hi")
    with sh.before(before), sh.before(abefore), sh.after(after), sh.after(aafter):
        result = await cmd.run()
    assert [name for name, _, _ in calls] == ["before", "abefore", "after", "aafter"]
    assert all(seen is cmd for _, seen, _ in calls)
    assert calls[2][2] == result
    assert calls[3][2] == result


async def test_hooks_run_around_the_events(anyio_backend: str) -> None:
    order: list[str] = []
    with (
        sh.before(lambda cmd: order.append("before")),
        sh.after(lambda cmd, result: order.append("after")),
        sh.observe(lambda event: order.append(event.phase)),
    ):
        await sh.make(TRUE)().run()
    assert order == ["before", "plan", "start", "exit", "after"]


async def test_hooks_run_once_per_pipeline_stage(anyio_backend: str) -> None:
    before: list[str] = []
    after: list[tuple[str, int | None]] = []
    with (
        sh.before(lambda cmd: before.append(cmd.program)),
        sh.after(lambda cmd, result: after.append((cmd.program, result.exit_code))),
    ):
        await (sh.make(ECHO)("x") | sh.make(CAT)()).run()
    assert before == ["echo", "cat"]
    assert after == [("echo", 0), ("cat", 0)]


async def test_after_hook_sees_a_failed_result_before_check_raises(anyio_backend: str) -> None:
    seen: list[CommandResult] = []
    with sh.after(lambda cmd, result: seen.append(result)), pytest.raises(CommandFailed):
        await sh.make(FALSE)().run(check=True)
    assert [r.exit_code for r in seen] == [1]


async def test_hook_handles_detach_and_work_as_context_managers(anyio_backend: str) -> None:
    calls: list[str] = []
    before = sh.before(lambda cmd: calls.append("before"))
    with sh.after(lambda cmd, result: calls.append("after")):
        await sh.make(TRUE)().run()
    await sh.make(TRUE)().run()
    before.detach()
    before.detach()
    await sh.make(TRUE)().run()
    async with sh.before(lambda cmd: calls.append("async-before")):
        await sh.make(TRUE)().run()
    await sh.make(TRUE)().run()
    assert calls == ["before", "after", "before", "async-before"]


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_a_before_hook_that_raises_spawns_nothing(
    anyio_backend: str, kind: str, tmp_path: Path, leak_check: LeakChecker
) -> None:
    flag = tmp_path / "spawned"
    events: list[ExecEvent] = []

    def hook(cmd: SafeCmd) -> None:
        raise PermissionError("not today")

    async def ahook(cmd: SafeCmd) -> None:
        await anyio.sleep(0)
        raise PermissionError("not today")

    children = child_pids()
    cmd = py(f"open({str(flag)!r}, 'w').close()")
    with (
        sh.observe(events.append),
        sh.before(hook if kind == "sync" else ahook),
        pytest.raises(PermissionError, match="not today"),
    ):
        await cmd.run()
    with sh.before(hook), pytest.raises(PermissionError, match="not today"):
        await (sh.make(ECHO)("x") | cmd).run()
    assert child_pids() == children
    assert not flag.exists()
    assert events == []


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_an_after_hook_that_raises_reaches_the_caller_child_reaped(
    anyio_backend: str, kind: str, leak_check: LeakChecker
) -> None:
    pids: list[int | None] = []

    def hook(cmd: SafeCmd, result: CommandResult) -> None:
        pids.append(result.pid)
        raise LookupError("after failed")

    async def ahook(cmd: SafeCmd, result: CommandResult) -> None:
        await anyio.sleep(0)
        hook(cmd, result)

    with sh.after(hook if kind == "sync" else ahook), pytest.raises(LookupError):
        await sh.make(ECHO)("x").run()
    (pid,) = pids
    assert pid is not None
    assert pid not in child_pids()
    assert not Path(f"/proc/{pid}").exists() or _not_my_child(pid)


def _not_my_child(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return True
    return int(stat.rpartition(b")")[2].split()[1]) != os.getpid()


async def test_after_hooks_run_for_lines(anyio_backend: str) -> None:
    seen: list[int | None] = []
    with sh.after(lambda cmd, result: seen.append(result.exit_code)):
        _ = [line async for line in sh.make(ECHO)("x").lines()]
    assert seen == [0]


async def test_before_hooks_run_for_lines(anyio_backend: str) -> None:
    seen: list[str] = []
    with sh.before(lambda cmd: seen.append(cmd.program)):
        _ = [line async for line in sh.make(ECHO)("x").lines()]
    assert seen == ["echo"]


async def test_after_hooks_run_for_open(anyio_backend: str) -> None:
    seen: list[int | None] = []
    with sh.after(lambda cmd, result: seen.append(result.exit_code)):
        async with sh.make(CAT)().open() as proc:
            assert proc.stdin is not None
            await proc.stdin.aclose()
    assert seen == [0]
