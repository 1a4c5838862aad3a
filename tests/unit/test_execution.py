"""Running one command: `await cmd.run(...)` on asyncio and trio."""

from __future__ import annotations

import dataclasses
import gc
import json
import os
import time
import warnings
from collections.abc import AsyncIterator
from contextlib import aclosing
from pathlib import Path

import anyio
import pytest
from anyio.abc import ByteReceiveStream

import cuprum.unsafe
from cuprum import (
    CAT,
    ECHO,
    FALSE,
    PWD,
    TRUE,
    CommandFailed,
    CommandResult,
    ExecutionContext,
    ProgramNotFoundError,
    SafeCmd,
    TimeoutExpired,
    sh,
)
from tests.helpers import (
    LeakChecker,
    child_pids,
    live_processes_in_group,
    python_child,
)


def py(code: str) -> SafeCmd:
    return cuprum.unsafe.dynamic(python_child(code))


def is_live(pid: int) -> bool:
    """True when ``pid`` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_bytes().rpartition(b")")[2].split()[0]
    except OSError:
        return False
    return state not in (b"Z", b"X")


SLEEP_FOREVER = "import time; time.sleep(300)"


class ChunkStream(ByteReceiveStream):
    """A ByteReceiveStream that hands out fixed chunks, then end of stream."""

    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = list(chunks)
        self.closed = False

    async def receive(self, max_bytes: int = 65536) -> bytes:
        if not self._chunks:
            raise anyio.EndOfStream
        return self._chunks.pop(0)

    async def aclose(self) -> None:
        self.closed = True


# --- capture and echo ----------------------------------------------------------


async def test_capture_stdout_and_stderr(anyio_backend: str) -> None:
    result = await py("import sys; sys.stdout.write('out\\n'); sys.stderr.write('err\\n')").run()
    assert result.stdout == "out\n"
    assert result.stderr == "err\n"
    assert result.stdout_bytes == b"out\n"
    assert result.stderr_bytes == b"err\n"


async def test_output_is_not_stripped_or_translated(anyio_backend: str) -> None:
    result = await py("import sys; sys.stdout.buffer.write(b'  a\\r\\nb\\r\\n\\n')").run()
    assert result.stdout == "  a\r\nb\r\n\n"


async def test_catalogue_command_runs(anyio_backend: str) -> None:
    result = await sh.make(ECHO)("hello", "world").run()
    assert result.stdout == "hello world\n"
    assert result.ok


async def test_capture_false_keeps_nothing_and_prints_nothing(
    anyio_backend: str, capfd: pytest.CaptureFixture[str]
) -> None:
    result = await py(
        "import sys; sys.stdout.write('x' * 100000); sys.stderr.write('e' * 1000)"
    ).run(capture=False)
    assert result.ok
    assert result.stdout is None
    assert result.stderr is None
    assert result.stdout_bytes is None
    assert result.stderr_bytes is None
    captured = capfd.readouterr()
    assert captured.out == ""
    assert captured.err == ""


async def test_capture_false_gives_child_dev_null(anyio_backend: str) -> None:
    # The child's stdout must be /dev/null, not a pipe nobody reads.
    code = (
        "import os, sys; sys.exit(0 if os.path.samestat(os.fstat(1), os.stat(os.devnull)) else 1)"
    )
    result = await py(code).run(capture=False)
    assert result.exit_code == 0


async def test_echo_copies_output_to_our_fds(
    anyio_backend: str, capfd: pytest.CaptureFixture[str]
) -> None:
    result = await py(
        "import sys; sys.stdout.write('to-out\\n'); sys.stderr.write('to-err\\n')"
    ).run(echo=True, capture=False)
    captured = capfd.readouterr()
    assert captured.out == "to-out\n"
    assert captured.err == "to-err\n"
    assert result.stdout is None
    assert result.stderr is None


async def test_echo_and_capture_together(
    anyio_backend: str, capfd: pytest.CaptureFixture[str]
) -> None:
    payload = "".join(f"line {i}\n" for i in range(2000))
    result = await py(
        f"import sys; sys.stdout.write({payload!r}); sys.stderr.write('warn\\n')"
    ).run(echo=True, capture=True)
    captured = capfd.readouterr()
    assert result.stdout == payload
    assert result.stderr == "warn\n"
    assert captured.out == payload
    assert captured.err == "warn\n"


async def test_without_echo_nothing_reaches_our_fds(
    anyio_backend: str, capfd: pytest.CaptureFixture[str]
) -> None:
    result = await sh.make(ECHO)("quiet").run()
    assert result.stdout == "quiet\n"
    captured = capfd.readouterr()
    assert captured.out == ""
    assert captured.err == ""


# --- decoding ------------------------------------------------------------------

INVALID_UTF8 = "import sys; sys.stdout.buffer.write(b'ok\\xff\\xfe!\\n')"


async def test_invalid_utf8_is_replaced_by_default(anyio_backend: str) -> None:
    result = await py(INVALID_UTF8).run()
    assert result.stdout == "ok\ufffd\ufffd!\n"
    assert result.stdout_bytes == b"ok\xff\xfe!\n"


async def test_errors_ignore(anyio_backend: str) -> None:
    result = await py(INVALID_UTF8).run(errors="ignore")
    assert result.stdout == "ok!\n"
    assert result.stdout_bytes == b"ok\xff\xfe!\n"


async def test_encoding_latin1(anyio_backend: str) -> None:
    result = await py(INVALID_UTF8).run(encoding="latin-1")
    assert result.stdout == "ok\xff\xfe!\n"


async def test_multibyte_characters_decode_across_chunks(anyio_backend: str) -> None:
    # 350 KB written in one go: the pipe delivers it in several reads, which
    # split characters; each must still decode whole.
    result = await py("import sys; sys.stdout.buffer.write(('é€😀' * 50000).encode('utf-8'))").run()
    assert result.stdout == "é€😀" * 50000


# --- stdin ---------------------------------------------------------------------

READ_STDIN = "import sys; sys.stdout.buffer.write(sys.stdin.buffer.read())"


async def test_stdin_bytes(anyio_backend: str) -> None:
    result = await sh.make(CAT)().run(stdin=b"from bytes\n\x00\xff")
    assert result.stdout_bytes == b"from bytes\n\x00\xff"


async def test_stdin_str_is_encoded_with_encoding(anyio_backend: str) -> None:
    result = await py(READ_STDIN).run(stdin="héllo")
    assert result.stdout_bytes == "héllo".encode()
    result = await py(READ_STDIN).run(stdin="héllo", encoding="latin-1")
    assert result.stdout_bytes == b"h\xe9llo"


async def test_stdin_path_is_passed_as_the_file(anyio_backend: str, tmp_path: Path) -> None:
    data = b"file contents\n" * 1000
    source = tmp_path / "input.bin"
    source.write_bytes(data)
    code = (
        "import os, stat, sys; "
        "assert stat.S_ISREG(os.fstat(0).st_mode), 'stdin is not the file'; "
        "sys.stdout.buffer.write(sys.stdin.buffer.read())"
    )
    result = await py(code).run(stdin=source)
    assert result.ok, result.stderr
    assert result.stdout_bytes == data


async def test_stdin_missing_path_raises(anyio_backend: str, tmp_path: Path) -> None:
    before = child_pids()
    with pytest.raises(FileNotFoundError):
        await sh.make(CAT)().run(stdin=tmp_path / "absent")
    assert child_pids() == before


async def test_stdin_byte_receive_stream(anyio_backend: str) -> None:
    stream = ChunkStream([b"one ", b"two ", b"three"])
    result = await sh.make(CAT)().run(stdin=stream)
    assert result.stdout == "one two three"


async def test_stdin_async_generator(anyio_backend: str) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for i in range(100):
            yield f"{i}\n".encode()
            await anyio.sleep(0)

    result = await sh.make(CAT)().run(stdin=chunks())
    assert result.stdout == "".join(f"{i}\n" for i in range(100))


async def test_stdin_async_generator_of_non_bytes_is_an_error(anyio_backend: str) -> None:
    async def chunks() -> AsyncIterator[str]:
        yield "text"

    with pytest.raises(TypeError, match="bytes"):
        await sh.make(CAT)().run(stdin=chunks())


async def test_stdin_none_gives_immediate_eof(anyio_backend: str) -> None:
    code = (
        "import os, stat, sys; data = sys.stdin.buffer.read(); "
        "print(len(data), stat.S_ISCHR(os.fstat(0).st_mode))"
    )
    with anyio.fail_after(10):
        result = await py(code).run(stdin=None)
    assert result.stdout == "0 True\n"


@pytest.mark.parametrize("read", ["", "import sys; sys.stdin.buffer.read(10)"])
async def test_child_that_ignores_megabytes_of_stdin_is_not_an_error(
    anyio_backend: str, read: str
) -> None:
    with anyio.fail_after(10):
        result = await py(read or "pass").run(stdin=b"x" * (8 * 1024 * 1024), check=True)
    assert result.exit_code == 0


async def test_endless_stdin_stops_quietly_when_child_exits(anyio_backend: str) -> None:
    async def endless() -> AsyncIterator[bytes]:
        while True:
            yield b"y" * 65536

    # The caller owns the generator and closes it (trio warns about async
    # generators collected unfinished); cuprum must just stop pulling from it.
    with anyio.fail_after(10):
        async with aclosing(endless()) as source:
            result = await py("import sys; sys.stdin.buffer.read(1000)").run(stdin=source)
    assert result.ok


@pytest.mark.parametrize("bad", [123, ["a"], object()])
async def test_invalid_stdin_type_is_a_type_error(anyio_backend: str, bad: object) -> None:
    with pytest.raises(TypeError, match="stdin"):
        await sh.make(CAT)().run(stdin=bad)  # type: ignore[arg-type]


# --- environment and working directory -------------------------------------------

PRINT_ENV = "import os, sys; print(os.environ.get(sys.argv[1], '<unset>'))"


async def test_env_overlay_sets_a_variable(anyio_backend: str) -> None:
    cmd = cuprum.unsafe.dynamic([*python_child(PRINT_ENV), "CUPRUM_TEST_VAR"])
    result = await cmd.run(context=ExecutionContext(env={"CUPRUM_TEST_VAR": "set it"}))
    assert result.stdout == "set it\n"


async def test_env_overlay_keeps_parent_environment(
    anyio_backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUPRUM_PARENT_VAR", "inherited")
    cmd = cuprum.unsafe.dynamic([*python_child(PRINT_ENV), "CUPRUM_PARENT_VAR"])
    result = await cmd.run(context=ExecutionContext(env={"OTHER": "x"}))
    assert result.stdout == "inherited\n"


async def test_env_none_unsets_a_parent_variable(
    anyio_backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUPRUM_DOOMED", "present")
    cmd = cuprum.unsafe.dynamic([*python_child(PRINT_ENV), "CUPRUM_DOOMED"])
    assert (await cmd.run()).stdout == "present\n"
    result = await cmd.run(context=ExecutionContext(env={"CUPRUM_DOOMED": None}))
    assert result.stdout == "<unset>\n"
    assert os.environ["CUPRUM_DOOMED"] == "present"  # the parent is untouched


async def test_env_from_command_context_and_scope(anyio_backend: str) -> None:
    code = "import os; print(os.environ['A'], os.environ['B'], os.environ['C'])"
    cmd = py(code).with_context(env={"B": "cmd", "C": "cmd"})
    with sh.scoped(env={"A": "scope", "B": "scope", "C": "scope"}):
        result = await cmd.run(context=ExecutionContext(env={"C": "run"}))
    assert result.stdout == "scope cmd run\n"


async def test_cwd(anyio_backend: str, tmp_path: Path) -> None:
    result = await sh.make(PWD)().run(context=ExecutionContext(cwd=tmp_path))
    assert Path(result.stdout.strip()).resolve() == tmp_path.resolve()  # type: ignore[union-attr]


async def test_cwd_from_command_context(anyio_backend: str, tmp_path: Path) -> None:
    cmd = py("import os; print(os.getcwd())").with_context(cwd=tmp_path)
    result = await cmd.run()
    assert Path(result.stdout.strip()).resolve() == tmp_path.resolve()  # type: ignore[union-attr]


async def test_missing_cwd_raises_file_not_found_naming_it(
    anyio_backend: str, tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-dir"
    leaks = LeakChecker()
    with pytest.raises(FileNotFoundError) as info:
        await sh.make(TRUE)().run(context=ExecutionContext(cwd=missing))
    assert not isinstance(info.value, ProgramNotFoundError)
    assert str(missing) in str(info.value)
    leaks.assert_clean()


async def test_cwd_that_is_a_file_raises_not_a_directory(
    anyio_backend: str, tmp_path: Path
) -> None:
    afile = tmp_path / "plain-file"
    afile.write_text("x")
    leaks = LeakChecker()
    with pytest.raises(NotADirectoryError) as info:
        await sh.make(TRUE)().run(context=ExecutionContext(cwd=afile))
    assert str(afile) in str(info.value)
    leaks.assert_clean()


# --- programs that cannot run ------------------------------------------------------


async def test_missing_program_raises_program_not_found(anyio_backend: str) -> None:
    leaks = LeakChecker()
    with pytest.raises(ProgramNotFoundError) as info:
        await cuprum.unsafe.dynamic(["no-such-prog-xyz"]).run()
    assert info.value.program == "no-such-prog-xyz"
    assert info.value.path == os.environ.get("PATH", os.defpath)
    assert isinstance(info.value, FileNotFoundError)
    leaks.assert_clean()


async def test_missing_program_message_names_program_and_search_path(
    anyio_backend: str,
) -> None:
    with pytest.raises(ProgramNotFoundError) as info:
        await cuprum.unsafe.dynamic(["no-such-prog-xyz"]).run()
    assert "no-such-prog-xyz" in str(info.value)
    assert os.environ["PATH"] in str(info.value)


async def test_missing_program_uses_overlaid_path(anyio_backend: str, tmp_path: Path) -> None:
    with pytest.raises(ProgramNotFoundError) as info:
        await cuprum.unsafe.dynamic(["cat"]).run(
            context=ExecutionContext(env={"PATH": str(tmp_path)})
        )
    assert info.value.path == str(tmp_path)


async def test_a_program_that_vanished_after_its_lookup_names_the_overlaid_path(
    anyio_backend: str, tmp_path: Path
) -> None:
    # The lookup is cached per PATH value: a program removed since is
    # reported with the search path the run used, not this process's.
    _script(tmp_path / "bin", "cuprum-vanishing", "here")
    context = ExecutionContext(env={"PATH": str(tmp_path / "bin")})
    cmd = cuprum.unsafe.dynamic(["cuprum-vanishing"])
    assert (await cmd.run(context=context)).stdout == "here\n"
    (tmp_path / "bin" / "cuprum-vanishing").unlink()
    with pytest.raises(ProgramNotFoundError) as info:
        await cmd.run(context=context)
    assert info.value.path == str(tmp_path / "bin")
    assert str(tmp_path / "bin") in str(info.value)


async def test_a_script_whose_interpreter_is_missing_is_not_called_missing_itself(
    anyio_backend: str, tmp_path: Path
) -> None:
    script = tmp_path / "cuprum-orphan"
    script.write_text("#!/nonexistent/cuprum-interpreter\necho never\n")
    script.chmod(0o755)
    leaks = LeakChecker()
    with pytest.raises(ProgramNotFoundError) as info:
        await cuprum.unsafe.dynamic([str(script)]).run()
    assert info.value.reason is not None
    assert "cannot start" in str(info.value)
    assert "interpreter" in str(info.value)
    assert "does not exist" not in str(info.value).split(":")[0]
    leaks.assert_clean()


def _script(directory: Path, name: str, says: str) -> None:
    directory.mkdir(exist_ok=True)
    script = directory / name
    script.write_text(f"#!/bin/sh\necho {says}\n")
    script.chmod(0o755)


async def test_program_lookup_follows_path_changes_and_removals(
    anyio_backend: str, tmp_path: Path
) -> None:
    # The lookup is remembered per PATH value: a changed PATH searches
    # again, and a program removed since is reported as missing.
    first, second = tmp_path / "first", tmp_path / "second"
    _script(second, "cuprum-probe", "second")
    cmd = cuprum.unsafe.dynamic(["cuprum-probe"])
    only_second = ExecutionContext(env={"PATH": str(second)})
    assert (await cmd.run(context=only_second)).stdout == "second\n"
    assert (await cmd.run(context=only_second)).stdout == "second\n"
    _script(first, "cuprum-probe", "first")
    both = ExecutionContext(env={"PATH": f"{first}{os.pathsep}{second}"})
    assert (await cmd.run(context=both)).stdout == "first\n"
    (second / "cuprum-probe").unlink()
    with pytest.raises(ProgramNotFoundError):
        await cmd.run(context=only_second)
    with pytest.raises(ProgramNotFoundError):
        await cmd.run(context=only_second)  # searched again: still missing
    _script(second, "cuprum-probe", "back")
    assert (await cmd.run(context=only_second)).stdout == "back\n"


async def test_missing_program_by_path(anyio_backend: str, tmp_path: Path) -> None:
    with pytest.raises(ProgramNotFoundError):
        await cuprum.unsafe.dynamic([str(tmp_path / "nothing-here")]).run()


async def test_non_executable_file_raises_permission_error(
    anyio_backend: str, tmp_path: Path
) -> None:
    script = tmp_path / "script.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o644)
    leaks = LeakChecker()
    with pytest.raises(PermissionError) as info:
        await cuprum.unsafe.dynamic([str(script)]).run()
    assert str(script) in str(info.value)
    leaks.assert_clean()


async def test_non_executable_file_on_path_raises_permission_error(
    anyio_backend: str, tmp_path: Path
) -> None:
    script = tmp_path / "cuprum-not-exec"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o644)
    with pytest.raises(PermissionError) as info:
        await cuprum.unsafe.dynamic(["cuprum-not-exec"]).run(
            context=ExecutionContext(env={"PATH": str(tmp_path)})
        )
    assert "cuprum-not-exec" in str(info.value)


async def test_directory_as_program_raises_permission_error(
    anyio_backend: str, tmp_path: Path
) -> None:
    leaks = LeakChecker()
    with pytest.raises(PermissionError) as info:
        await cuprum.unsafe.dynamic([str(tmp_path)]).run()
    assert str(tmp_path) in str(info.value)
    leaks.assert_clean()


# --- results -----------------------------------------------------------------------


async def test_result_fields(anyio_backend: str) -> None:
    cmd = sh.make(ECHO)("a", "b")
    result = await cmd.run()
    assert isinstance(result, CommandResult)
    assert result.program == "echo"
    assert result.argv == ("echo", "a", "b")
    assert isinstance(result.pid, int)
    assert result.pid > 0
    assert result.exit_code == 0
    assert result.duration > 0
    assert result.ok is True
    assert result.truncated is False
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.exit_code = 1  # type: ignore[misc]


async def test_pid_is_the_childs_pid(anyio_backend: str) -> None:
    result = await py("import os; print(os.getpid())").run()
    assert result.pid == int(result.stdout or "0")


async def test_nonzero_exit_is_not_ok_but_not_raised(anyio_backend: str) -> None:
    result = await py("import sys; sys.exit(3)").run()
    assert result.exit_code == 3
    assert result.ok is False


async def test_signal_death_gives_negative_exit_code(anyio_backend: str) -> None:
    result = await py("import os; os.kill(os.getpid(), 9)").run()
    assert result.exit_code == -9
    assert result.ok is False


async def test_check_raises_command_failed_with_result(anyio_backend: str) -> None:
    cmd = py("import sys; sys.stdout.write('so far'); sys.stderr.write('bad thing'); sys.exit(4)")
    with pytest.raises(CommandFailed) as info:
        await cmd.run(check=True)
    result = info.value.result
    assert isinstance(result, CommandResult)
    assert result.exit_code == 4
    assert result.stdout == "so far"
    assert result.stderr == "bad thing"
    assert "bad thing" in str(info.value)
    assert "4" in str(info.value)


async def test_check_passes_on_success(anyio_backend: str) -> None:
    result = await sh.make(TRUE)().run(check=True)
    assert result.ok


async def test_result_check_method(anyio_backend: str) -> None:
    result = await sh.make(FALSE)().run()
    with pytest.raises(CommandFailed) as info:
        result.check()
    assert info.value.result is result


async def test_ok_codes_argument(anyio_backend: str) -> None:
    cmd = py("import sys; sys.exit(2)")
    result = await cmd.run(ok_codes={0, 2}, check=True)
    assert result.ok
    assert result.exit_code == 2
    result = await cmd.run(ok_codes=[1])
    assert not result.ok


async def test_ok_codes_excluding_zero_makes_zero_a_failure(anyio_backend: str) -> None:
    with pytest.raises(CommandFailed):
        await sh.make(TRUE)().run(ok_codes=[1], check=True)


async def test_with_ok_codes_on_the_command(anyio_backend: str) -> None:
    cmd = py("import sys; sys.exit(1)").with_ok_codes([0, 1])
    result = await cmd.run(check=True)
    assert result.ok
    assert result.exit_code == 1


# --- timeouts ----------------------------------------------------------------------


@pytest.mark.parametrize("winner", ["argument", "run_context", "command_context", "scope"])
async def test_timeout_precedence(anyio_backend: str, winner: str) -> None:
    # Distinct values per level; the level in force is the one reported.
    levels = ["argument", "run_context", "command_context", "scope"]
    values = {"argument": 0.4, "run_context": 0.3, "command_context": 0.2, "scope": 0.1}
    active = levels[levels.index(winner) :]
    cmd = py(SLEEP_FOREVER)
    if "command_context" in active:
        cmd = cmd.with_context(timeout=values["command_context"])
    kwargs: dict[str, object] = {}
    if "argument" in active:
        kwargs["timeout"] = values["argument"]
    if "run_context" in active:
        kwargs["context"] = ExecutionContext(timeout=values["run_context"])
    scope_timeout = values["scope"] if "scope" in active else None
    with (
        anyio.fail_after(10),
        sh.scoped(timeout=scope_timeout),
        pytest.raises(TimeoutExpired) as info,
    ):
        await cmd.run(**kwargs)  # type: ignore[arg-type]
    assert info.value.timeout == values[winner]


async def test_longer_argument_timeout_overrides_short_scope_timeout(
    anyio_backend: str,
) -> None:
    # The scope says 0.05 s, the argument 60 s: the child, which ends on its
    # own after half a second, must not be cut short.
    with sh.scoped(timeout=0.05), anyio.fail_after(30):
        result = await py("import time; time.sleep(0.5); print('finished')").run(timeout=60)
    assert result.stdout == "finished\n"


async def test_timeout_expired_carries_partial_output(anyio_backend: str) -> None:
    cmd = py(
        "import sys, time; sys.stdout.write('partial out'); sys.stdout.flush(); "
        "sys.stderr.write('partial err'); sys.stderr.flush(); time.sleep(300)"
    )
    started = time.monotonic()
    with pytest.raises(TimeoutExpired) as info:
        await cmd.run(timeout=1.5)
    assert time.monotonic() - started < 10
    result = info.value.result
    assert isinstance(result, CommandResult)
    assert result.stdout == "partial out"
    assert result.stderr == "partial err"
    assert result.exit_code == -15
    assert result.ok is False
    assert info.value.timeout == 1.5
    assert result.pid is not None
    assert live_processes_in_group(result.pid) == []


async def test_timeout_with_check_still_raises_timeout(anyio_backend: str) -> None:
    with pytest.raises(TimeoutExpired):
        await py(SLEEP_FOREVER).run(timeout=0.2, check=True)


async def test_child_ignoring_sigterm_is_killed_after_cancel_grace(
    anyio_backend: str,
) -> None:
    cmd = py(
        "import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ignoring', flush=True); time.sleep(300)"
    )
    started = time.monotonic()
    with pytest.raises(TimeoutExpired) as info:
        await cmd.run(timeout=1.0, context=ExecutionContext(cancel_grace=0.2))
    assert time.monotonic() - started < 10
    result = info.value.result
    assert isinstance(result, CommandResult)
    assert result.stdout == "ignoring\n"
    assert result.exit_code == -9
    assert result.pid is not None
    assert not is_live(result.pid)


SHELL_WITH_GRANDCHILD = 'sleep 300 & echo "started $$ $!"; wait'


def _pids_from(text: str) -> tuple[int, int]:
    line = next(line for line in text.splitlines() if line.startswith("started"))
    _, shell, grandchild = line.split()
    return int(shell), int(grandchild)


async def test_timeout_kills_background_grandchild(anyio_backend: str) -> None:
    cmd = cuprum.unsafe.dynamic(["sh", "-c", SHELL_WITH_GRANDCHILD])
    with anyio.fail_after(20), pytest.raises(TimeoutExpired) as info:
        await cmd.run(timeout=1.0, context=ExecutionContext(cancel_grace=0.5))
    result = info.value.result
    assert isinstance(result, CommandResult)
    assert result.pid is not None
    shell, grandchild = _pids_from(result.stdout or "")
    assert shell == result.pid
    assert live_processes_in_group(result.pid) == []
    assert not is_live(grandchild)


async def test_cancellation_kills_background_grandchild(anyio_backend: str, tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    cmd = cuprum.unsafe.dynamic(["sh", "-c", SHELL_WITH_GRANDCHILD])
    leaks = LeakChecker()
    started = time.monotonic()
    with anyio.move_on_after(1.0) as scope:
        await cmd.run(stdout=out, context=ExecutionContext(cancel_grace=0.5))
    assert scope.cancelled_caught
    assert time.monotonic() - started < 10
    shell, grandchild = _pids_from(out.read_text())
    assert live_processes_in_group(shell) == []
    assert not is_live(shell)
    assert not is_live(grandchild)
    leaks.assert_clean()


async def test_cancellation_propagates_and_reaps_child(anyio_backend: str) -> None:
    leaks = LeakChecker()
    cancelled = anyio.get_cancelled_exc_class()
    with anyio.CancelScope() as scope:
        async with anyio.create_task_group() as tg:

            async def runner() -> None:
                try:
                    await py(SLEEP_FOREVER).run()
                except cancelled:
                    seen.append("cancelled")
                    raise

            seen: list[str] = []
            tg.start_soon(runner)
            await anyio.sleep(0.3)
            scope.cancel()
    assert seen == ["cancelled"]
    leaks.assert_clean()


async def test_grandchild_holding_stdout_does_not_hang_the_run(anyio_backend: str) -> None:
    cmd = cuprum.unsafe.dynamic(["sh", "-c", "sleep 30 & echo done"])
    started = time.monotonic()
    with anyio.fail_after(20):
        result = await cmd.run(context=ExecutionContext(cancel_grace=0.2))
    assert time.monotonic() - started < 5
    assert result.stdout == "done\n"
    assert result.exit_code == 0
    assert result.ok
    assert result.pid is not None
    assert live_processes_in_group(result.pid) == []


async def test_grandchild_holding_stdout_without_capture_does_not_hang(
    anyio_backend: str, capfd: pytest.CaptureFixture[str]
) -> None:
    cmd = cuprum.unsafe.dynamic(["sh", "-c", "sleep 30 & echo done"])
    with anyio.fail_after(20):
        result = await cmd.run(echo=True, capture=False, context=ExecutionContext(cancel_grace=0.2))
    assert result.ok
    assert capfd.readouterr().out == "done\n"


async def test_ending_a_background_grandchild_emits_no_resource_warning(
    anyio_backend: str,
) -> None:
    cmd = cuprum.unsafe.dynamic(["sh", "-c", "sleep 30 & echo done"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = await cmd.run(context=ExecutionContext(cancel_grace=0.2))
        gc.collect()
    assert result.stdout == "done\n"
    leaked = [w for w in caught if issubclass(w.category, ResourceWarning)]
    assert leaked == []


# --- leaks ---------------------------------------------------------------------------


async def test_many_runs_leave_no_descriptor_or_process(anyio_backend: str) -> None:
    leaks = LeakChecker()
    echo, cat = sh.make(ECHO), sh.make(CAT)
    for i in range(200):
        match i % 4:
            case 0:
                result = await echo(str(i)).run()
                assert result.stdout == f"{i}\n"
            case 1:
                result = await cat().run(stdin=f"{i}".encode())
                assert result.stdout == f"{i}"
            case 2:
                result = await sh.make(FALSE)().run(capture=False)
                assert result.exit_code == 1
            case _:
                with pytest.raises(ProgramNotFoundError):
                    await cuprum.unsafe.dynamic(["no-such-prog-xyz"]).run()
    leaks.assert_clean()


async def test_timeouts_leave_no_descriptor_or_process(anyio_backend: str) -> None:
    leaks = LeakChecker()
    for _ in range(5):
        with pytest.raises(TimeoutExpired):
            await py(SLEEP_FOREVER).run(timeout=0.1, stdin=b"data")
    leaks.assert_clean()


async def test_child_gets_only_three_descriptors(anyio_backend: str, tmp_path: Path) -> None:
    extra = os.open(tmp_path / "extra", os.O_WRONLY | os.O_CREAT)
    os.set_inheritable(extra, True)  # even an inheritable descriptor stays here
    try:
        result = await py(
            "import json, os; print(json.dumps(sorted(map(int, os.listdir('/proc/self/fd')))))"
        ).run(stdin=b"x")
    finally:
        os.close(extra)
    fds = json.loads(result.stdout or "")
    # 0, 1, 2, plus the descriptor listdir itself opened.
    assert fds[:3] == [0, 1, 2]
    assert len(fds) == 4


# --- run_sync ---------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_run_sync(backend: str) -> None:
    result = sh.make(CAT)().run_sync(backend=backend, stdin=b"sync")
    assert result.stdout == "sync"
    assert result.ok


def test_run_sync_default_backend_and_options() -> None:
    with pytest.raises(CommandFailed):
        sh.make(FALSE)().run_sync(check=True)


def test_run_sync_invalid_backend() -> None:
    with pytest.raises(ValueError, match="backend"):
        sh.make(TRUE)().run_sync(backend="curio")


async def test_run_sync_inside_a_running_loop_raises(anyio_backend: str) -> None:
    before = child_pids()
    with pytest.raises(RuntimeError, match="await"):
        sh.make(TRUE)().run_sync()
    assert child_pids() == before
