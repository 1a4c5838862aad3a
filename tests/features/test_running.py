"""Steps for running.feature: one command, timeouts and cancellation.

Steps are synchronous and drive the async API with `anyio.run`; every
scenario runs on asyncio and trio through the ``anyio_backend`` fixture.
"""

from __future__ import annotations

import codecs
import time
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import pytest
from pytest_bdd import given, parsers, scenarios, then, when

import cuprum.unsafe
from cuprum import (
    ECHO,
    CommandFailed,
    CommandResult,
    ExecutionContext,
    SafeCmd,
    TimeoutExpired,
    sh,
)
from tests.helpers import live_processes_in_group, python_child

scenarios("running.feature")


@dataclass
class Run:
    """What one scenario built and what came of running it."""

    cmd: SafeCmd | None = None
    result: CommandResult | None = None
    error: BaseException | None = None
    elapsed: float = 0.0
    pids: tuple[int, int] | None = None
    cancelled: bool = False
    extra: dict[str, object] = field(default_factory=dict[str, object])


@pytest.fixture(autouse=True)
def loop(anyio_backend: str) -> str:
    """The event loop the steps drive (asyncio and trio)."""
    return anyio_backend


@pytest.fixture
def run() -> Run:
    return Run()


def _text(value: str) -> str:
    """Turn the feature file's escapes (``\\n``) into characters."""
    return codecs.decode(value, "unicode_escape")


def _is_live(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_bytes().rpartition(b")")[2].split()[0]
    except OSError:
        return False
    return state not in (b"Z", b"X")


def _execute(run: Run, loop: str, **options: object) -> None:
    assert run.cmd is not None
    cmd = run.cmd

    async def go() -> None:
        with anyio.fail_after(30):
            run.result = await cmd.run(**options)  # type: ignore[arg-type]

    started = time.monotonic()
    try:
        anyio.run(go, backend=loop)
    except (CommandFailed, TimeoutExpired) as exc:
        run.error = exc
    finally:
        run.elapsed = time.monotonic() - started


# --- Given ---------------------------------------------------------------------


@given(parsers.parse('the command echo with arguments "{first}" and "{second}"'))
def echo_command(run: Run, first: str, second: str) -> None:
    run.cmd = sh.make(ECHO)(first, second)


@given(parsers.parse('a Python child that writes "{text}" to stderr and exits with {code:d}'))
def failing_child(run: Run, text: str, code: int) -> None:
    run.cmd = cuprum.unsafe.dynamic(
        python_child(f"import sys; sys.stderr.write({text!r}); sys.exit({code})")
    )


@given(parsers.parse('a Python child that prints "{text}" and then sleeps'))
def printing_sleeper(run: Run, text: str) -> None:
    run.cmd = cuprum.unsafe.dynamic(
        python_child(f"import time; print({text!r}, flush=True); time.sleep(300)")
    )


@given("a Python child that ignores SIGTERM and sleeps")
def stubborn_child(run: Run) -> None:
    run.cmd = cuprum.unsafe.dynamic(
        python_child(
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "print('ignoring', flush=True); time.sleep(300)"
        )
    )


@given("a shell that starts a background sleep and waits for it")
def shell_with_grandchild(run: Run) -> None:
    run.cmd = cuprum.unsafe.dynamic(["sh", "-c", 'sleep 300 & echo "started $$ $!"; wait'])


@given("a shell that leaves a background sleep holding its stdout")
def shell_leaving_grandchild(run: Run) -> None:
    run.cmd = cuprum.unsafe.dynamic(["sh", "-c", "sleep 30 & echo done"])


# --- When ----------------------------------------------------------------------


@when("I run the command")
def run_command(run: Run, loop: str) -> None:
    _execute(run, loop)


@when("I run the command with check")
def run_command_checked(run: Run, loop: str) -> None:
    _execute(run, loop, check=True)


@when(parsers.parse("I run the command with a timeout of {timeout:g} seconds"))
def run_with_timeout(run: Run, loop: str, timeout: float) -> None:
    _execute(run, loop, timeout=timeout)


@when(
    parsers.parse(
        "I run the command with a timeout of {timeout:g} seconds "
        "and a cancel grace of {grace:g} seconds"
    )
)
def run_with_timeout_and_grace(run: Run, loop: str, timeout: float, grace: float) -> None:
    _execute(run, loop, timeout=timeout, context=ExecutionContext(cancel_grace=grace))


@when(parsers.parse("I run the command with a cancel grace of {grace:g} seconds"))
def run_with_grace(run: Run, loop: str, grace: float) -> None:
    _execute(run, loop, context=ExecutionContext(cancel_grace=grace))


@when("I cancel the run once the shell has started")
def cancel_after_start(run: Run, loop: str, tmp_path: Path) -> None:
    assert run.cmd is not None
    cmd = run.cmd
    out = tmp_path / "out.txt"
    cancelled_exc = None

    async def runner(scope: anyio.CancelScope) -> None:
        nonlocal cancelled_exc
        with scope:
            try:
                await cmd.run(stdout=out, context=ExecutionContext(cancel_grace=0.5))
            except anyio.get_cancelled_exc_class() as exc:
                cancelled_exc = exc
                raise

    async def go() -> None:
        scope = anyio.CancelScope()
        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                tg.start_soon(runner, scope)
                # Wait (polling, bounded by fail_after) for the shell to report.
                while "started" not in (out.read_text() if out.exists() else ""):
                    await anyio.sleep(0.01)
                scope.cancel()

    anyio.run(go, backend=loop)
    run.cancelled = cancelled_exc is not None
    _, shell, grandchild = out.read_text().split()
    run.pids = (int(shell), int(grandchild))


# --- Then ----------------------------------------------------------------------


@then(parsers.parse("the run succeeds with exit code {code:d}"))
def run_succeeds(run: Run, code: int) -> None:
    assert run.error is None, run.error
    assert run.result is not None
    assert run.result.exit_code == code
    assert run.result.ok


@then(parsers.parse('stdout is "{text}"'))
def stdout_is(run: Run, text: str) -> None:
    assert run.result is not None
    assert run.result.stdout == _text(text)


@then("stderr is empty")
def stderr_empty(run: Run) -> None:
    assert run.result is not None
    assert run.result.stderr == ""


@then(parsers.parse("CommandFailed is raised for exit code {code:d}"))
def command_failed(run: Run, code: int) -> None:
    assert isinstance(run.error, CommandFailed)
    result = run.error.result
    assert isinstance(result, CommandResult)
    assert result.exit_code == code
    assert not result.ok


@then(parsers.parse('the failure\'s stderr is "{text}"'))
def failure_stderr(run: Run, text: str) -> None:
    assert isinstance(run.error, CommandFailed)
    assert isinstance(run.error.result, CommandResult)
    assert run.error.result.stderr == _text(text)


@then(parsers.parse("TimeoutExpired is raised after {timeout:g} seconds"))
def timeout_expired(run: Run, timeout: float) -> None:
    assert isinstance(run.error, TimeoutExpired), run.error
    assert run.error.timeout == timeout
    assert run.elapsed >= timeout
    assert run.elapsed < timeout + 10  # did not hang


@then(parsers.parse('the partial stdout is "{text}"'))
def partial_stdout(run: Run, text: str) -> None:
    assert isinstance(run.error, TimeoutExpired)
    assert isinstance(run.error.result, CommandResult)
    assert run.error.result.stdout == _text(text)


@then(parsers.parse("the child was killed by signal {signum:d}"))
def killed_by(run: Run, signum: int) -> None:
    assert isinstance(run.error, TimeoutExpired)
    assert isinstance(run.error.result, CommandResult)
    assert run.error.result.exit_code == -signum


@then("no process is left in the child's process group")
def group_empty(run: Run) -> None:
    result = run.result
    if result is None and isinstance(run.error, (CommandFailed, TimeoutExpired)):
        assert isinstance(run.error.result, CommandResult)
        result = run.error.result
    assert result is not None
    assert result.pid is not None
    assert live_processes_in_group(result.pid) == []


@then("the cancellation reaches the caller")
def cancellation_propagated(run: Run) -> None:
    assert run.cancelled


@then("neither the shell nor its grandchild is alive")
def nothing_alive(run: Run) -> None:
    assert run.pids is not None
    shell, grandchild = run.pids
    assert not _is_live(shell)
    assert not _is_live(grandchild)
    assert live_processes_in_group(shell) == []


@then(parsers.parse("the run took less than {seconds:g} seconds"))
def took_less_than(run: Run, seconds: float) -> None:
    assert run.elapsed < seconds
