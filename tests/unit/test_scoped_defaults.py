"""sh.scoped (SPEC section 8): allowlists, defaults and tags, and how scopes follow tasks."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from cuprum import (
    CAT,
    ECHO,
    ENV,
    FALSE,
    PWD,
    SLEEP,
    TRUE,
    CommandResult,
    EventPhase,
    ExecEvent,
    ForbiddenProgramError,
    TimeoutExpired,
    sh,
)
from tests.helpers import lines_of

pytestmark = pytest.mark.usefixtures("no_registration_leaks")


def test_scoped_allowlist_narrows() -> None:
    with sh.scoped(allowlist={ECHO, CAT}):
        sh.make(ECHO)
        sh.make(CAT)
        with pytest.raises(ForbiddenProgramError, match="'true'") as caught:
            sh.make(TRUE)
        assert caught.value.program == "true"
    sh.make(TRUE)  # allowed again outside


@pytest.mark.parametrize("inner", [{ECHO, CAT}, None, set()])
def test_scoped_allowlist_never_widens(inner: set[str] | None) -> None:
    with sh.scoped(allowlist={ECHO}), sh.scoped(allowlist=inner):
        with pytest.raises(ForbiddenProgramError, match="'cat'") as caught:
            sh.make(CAT)
        assert caught.value.program == "cat"
        if inner is None or ECHO in inner:
            sh.make(ECHO)
        else:
            with pytest.raises(ForbiddenProgramError, match="'echo'"):
                sh.make(ECHO)


def test_forbidden_is_a_permission_error() -> None:
    with sh.scoped(allowlist=[]), pytest.raises(PermissionError):
        sh.make(ECHO)


async def test_scoped_timeout_default_applies(anyio_backend: str) -> None:
    with sh.scoped(timeout=0.3), pytest.raises(TimeoutExpired) as caught:
        await sh.make(SLEEP)("300").run()
    assert caught.value.timeout == pytest.approx(0.3)


async def test_run_timeout_overrides_the_scope(anyio_backend: str) -> None:
    with sh.scoped(timeout=0.05):
        result = await sh.make(SLEEP)("0.3").run(timeout=10)
    assert result.ok


async def test_scoped_env_cwd_and_tags_apply(anyio_backend: str, tmp_path: Path) -> None:
    events: list[ExecEvent] = []
    with (
        sh.scoped(env={"CUPRUM_SCOPED": "outer", "KEEP": "k"}, tags={"a": "1", "b": "1"}),
        sh.scoped(env={"CUPRUM_SCOPED": "inner"}, cwd=tmp_path, tags={"b": "2"}),
        sh.observe(events.append),
    ):
        env = await sh.make(ENV)().run()
        pwd = await sh.make(PWD)().run()
        overridden = await sh.make(ENV)().with_context(env={"CUPRUM_SCOPED": "cmd"}).run()
    assert env.stdout is not None
    assert "CUPRUM_SCOPED=inner\n" in env.stdout
    assert "KEEP=k\n" in env.stdout
    assert pwd.stdout == f"{tmp_path}\n"
    assert overridden.stdout is not None
    assert "CUPRUM_SCOPED=cmd\n" in overridden.stdout
    assert {e.cwd for e in events} == {str(tmp_path)}
    assert all(dict(e.tags) == {"a": "1", "b": "2"} for e in events)


async def test_scope_defaults_do_not_outlive_the_block(anyio_backend: str) -> None:
    events: list[ExecEvent] = []
    with sh.scoped(tags={"a": "1"}, env={"CUPRUM_SCOPED": "x"}):
        pass
    with sh.observe(events.append):
        result = await sh.make(ENV)().run()
    assert result.stdout is not None
    assert "CUPRUM_SCOPED" not in result.stdout
    assert all(dict(e.tags) == {} for e in events)


async def test_scope_follows_tasks_started_inside_it(anyio_backend: str) -> None:
    events: list[ExecEvent] = []
    errors: list[ForbiddenProgramError] = []

    async def child() -> None:
        try:
            sh.make(CAT)
        except ForbiddenProgramError as exc:
            errors.append(exc)
        await sh.make(ECHO)("from a task").run()

    with sh.scoped(allowlist={ECHO}, tags={"scope": "outer"}), sh.observe(events.append):
        async with anyio.create_task_group() as tg:
            tg.start_soon(child)
            tg.start_soon(child)
    assert [e.program for e in errors] == ["cat", "cat"]
    assert lines_of(events, EventPhase.STDOUT) == ["from a task", "from a task"]
    assert all(dict(e.tags) == {"scope": "outer"} for e in events)


async def test_scope_does_not_leak_into_sibling_tasks(anyio_backend: str) -> None:
    scoped_events: list[ExecEvent] = []
    sibling_results: list[CommandResult] = []
    inside = anyio.Event()
    sibling_done = anyio.Event()

    async def scoped_task() -> None:
        with sh.scoped(allowlist={ECHO}, tags={"mine": "yes"}), sh.observe(scoped_events.append):
            inside.set()
            await sibling_done.wait()
            await sh.make(ECHO)("scoped").run()
            with pytest.raises(ForbiddenProgramError):
                sh.make(CAT)

    async def sibling() -> None:
        await inside.wait()
        builder = sh.make(CAT)  # the other task's allowlist does not apply here
        sibling_results.append(await builder().run(stdin=b"sibling"))
        sibling_done.set()

    with anyio.fail_after(20):
        async with anyio.create_task_group() as tg:
            tg.start_soon(scoped_task)
            tg.start_soon(sibling)
    assert sibling_results[0].stdout == "sibling"
    assert {e.program for e in scoped_events} == {"echo"}
    assert all(dict(e.tags) == {"mine": "yes"} for e in scoped_events)


async def test_hooks_of_a_scope_follow_its_tasks_and_end_with_it(anyio_backend: str) -> None:
    seen: list[str] = []

    async def child() -> None:
        await sh.make(TRUE)().run()

    with sh.scoped():
        sh.before(lambda cmd: seen.append(cmd.program))
        async with anyio.create_task_group() as tg:
            tg.start_soon(child)
    await sh.make(FALSE)().run()
    assert seen == ["true"]


async def test_pipeline_events_of_a_scope_carry_its_tags(anyio_backend: str) -> None:
    events: list[ExecEvent] = []
    with sh.scoped(tags={"job": "p"}), sh.observe(events.append):
        await (sh.make(ECHO)("x") | sh.make(CAT)()).run()
    assert events
    assert all(dict(e.tags) == {"job": "p"} for e in events)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_scope_follows_run_sync(backend: str) -> None:
    events: list[ExecEvent] = []
    with sh.scoped(allowlist={ECHO}, tags={"k": "v"}), sh.observe(events.append):
        sh.make(ECHO)("x").run_sync(backend=backend)

        async def build_forbidden() -> None:
            sh.make(CAT)

        with pytest.raises(ForbiddenProgramError, match="'cat'"):
            anyio.run(build_forbidden, backend=backend)
    assert [e.phase for e in events] == ["plan", "start", "stdout", "exit"]
    assert all(dict(e.tags) == {"k": "v"} for e in events)
