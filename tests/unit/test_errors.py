"""The error tree and the public surface of `cuprum`."""

from __future__ import annotations

import pytest

import cuprum
from cuprum import (
    ECHO,
    CommandFailed,
    CommandResult,
    CuprumError,
    ExecutionContext,
    ForbiddenProgramError,
    PipelineResult,
    ProgramNotFoundError,
    StreamBackendUnavailable,
    TimeoutExpired,
    UnknownProgramError,
    sh,
)

EXPECTED_PUBLIC_NAMES = sorted(
    [
        "CAT",
        "ContextKwargs",
        "RunKwargs",
        "CUT",
        "DEFAULT_CATALOGUE",
        "ECHO",
        "ENV",
        "FALSE",
        "GIT",
        "GREP",
        "GZIP",
        "HEAD",
        "LS",
        "PRINTF",
        "PWD",
        "PYTHON",
        "RSYNC",
        "SED",
        "SH",
        "SHA256SUM",
        "SLEEP",
        "SORT",
        "TAIL",
        "TAR",
        "TEE",
        "TR",
        "TRUE",
        "UNIQ",
        "WC",
        "YES",
        "CommandBuilder",
        "CommandFailed",
        "CommandResult",
        "CuprumError",
        "EventPhase",
        "ExecEvent",
        "ExecutionContext",
        "ForbiddenProgramError",
        "HookHandle",
        "Pipeline",
        "PipelineResult",
        "Process",
        "Program",
        "ProgramCatalogue",
        "ProgramNotFoundError",
        "ProjectSettings",
        "RemoteConnectionError",
        "SafeCmd",
        "StreamBackendUnavailable",
        "TimeoutExpired",
        "UnknownProgramError",
        "__version__",
        "run_concurrent",
        "sh",
    ]
)


def _result(exit_code: int = 1, stderr: str = "") -> CommandResult:
    return CommandResult(
        program="prog",
        argv=("prog", "x"),
        pid=123,
        exit_code=exit_code,
        stdout="",
        stderr=stderr,
        stdout_bytes=b"",
        stderr_bytes=stderr.encode(),
        duration=0.1,
        ok=False,
    )


def test_public_surface_is_exactly_the_expected_names() -> None:
    assert sorted(cuprum.__all__) == EXPECTED_PUBLIC_NAMES
    assert len(cuprum.__all__) == len(set(cuprum.__all__))


def test_every_public_name_exists() -> None:
    for name in cuprum.__all__:
        assert hasattr(cuprum, name), name


def test_version_is_a_string() -> None:
    assert isinstance(cuprum.__version__, str)
    assert cuprum.__version__


@pytest.mark.parametrize(
    ("error", "builtin"),
    [
        (UnknownProgramError, LookupError),
        (ForbiddenProgramError, PermissionError),
        (ProgramNotFoundError, FileNotFoundError),
        (StreamBackendUnavailable, RuntimeError),
        (TimeoutExpired, TimeoutError),
        (CommandFailed, Exception),
    ],
)
def test_error_inherits_cuprum_error_and_builtin(
    error: type[Exception], builtin: type[Exception]
) -> None:
    assert issubclass(error, CuprumError)
    assert issubclass(error, builtin)


def test_cuprum_error_is_an_exception() -> None:
    assert issubclass(CuprumError, Exception)
    assert not issubclass(CuprumError, BaseExceptionGroup)


def test_command_failed_is_not_an_oserror_or_timeout() -> None:
    assert not issubclass(CommandFailed, (OSError, TimeoutError))


def test_unknown_program_error_message_and_attributes() -> None:
    err = UnknownProgramError("rm", ["alpha", "beta"])
    assert err.program == "rm"
    assert err.projects == ("alpha", "beta")
    assert "'rm'" in str(err)
    assert "alpha" in str(err)
    assert "beta" in str(err)


def test_unknown_program_error_with_no_projects() -> None:
    assert "(none)" in str(UnknownProgramError("x", []))


def test_forbidden_program_error_names_program() -> None:
    err = ForbiddenProgramError("cat")
    assert err.program == "cat"
    assert "'cat'" in str(err)
    assert "scope" in str(err)


def test_program_not_found_error_attributes() -> None:
    err = ProgramNotFoundError("nope", "/a:/b")
    assert err.program == "nope"
    assert err.path == "/a:/b"
    assert err.filename == "nope"
    assert "'nope'" in str(err)


def test_program_not_found_error_message_names_program_and_search_path() -> None:
    err = ProgramNotFoundError("nope", "/a:/b")
    assert "not found" in str(err)
    assert "/a:/b" in str(err)


def test_program_not_found_error_for_a_path_says_it_does_not_exist() -> None:
    err = ProgramNotFoundError("/x/nope", None)
    assert err.path is None
    assert "'/x/nope' does not exist" in str(err)


def test_stream_backend_unavailable_keeps_its_message() -> None:
    assert str(StreamBackendUnavailable("build it")) == "build it"


def test_command_failed_holds_result_and_names_program_and_code() -> None:
    result = _result(exit_code=3, stderr="one\ntwo\nthree\nfour\n")
    err = CommandFailed(result)
    assert err.result is result
    message = str(err)
    assert "'prog x'" in message  # the argv, shell-quoted
    assert "exited with 3" in message
    assert "four" in message  # the tail of stderr
    assert "one" not in message  # but only the last lines


def test_command_failed_quotes_and_shortens_the_argv() -> None:
    quoted = CommandResult(
        program="grep", argv=("grep", "-c", "two words", "log.txt"), pid=1, exit_code=1
    )
    assert str(CommandFailed(quoted)) == "command \"grep -c 'two words' log.txt\" exited with 1"
    long = CommandResult(program="echo", argv=("echo", "x" * 500), pid=1, exit_code=2)
    message = str(CommandFailed(long))
    assert "..." in message
    assert len(message) < 200
    assert "exited with 2" in message


def test_command_failed_for_a_pipeline_names_the_failed_stage() -> None:
    ok = CommandResult(program="first", argv=("first",), pid=1, exit_code=0, ok=True)
    bad = _result(exit_code=2)
    pipeline = PipelineResult(
        stages=(ok, bad), failure=bad, failure_index=1, duration=0.2, ok=False
    )
    err = CommandFailed(pipeline)
    assert err.result is pipeline
    assert "first | prog" in str(err)
    assert "exited with 2" in str(err)


def test_timeout_expired_holds_result_and_timeout() -> None:
    result = _result(exit_code=-15)
    err = TimeoutExpired(result, 2.5)
    assert err.result is result
    assert err.timeout == 2.5
    assert "'prog'" in str(err)
    assert "2.5" in str(err)


def test_result_check_raises_command_failed_with_itself() -> None:
    result = _result()
    with pytest.raises(CommandFailed) as info:
        result.check()
    assert info.value.result is result


def test_result_check_returns_self_when_ok() -> None:
    ok = CommandResult(program="p", argv=("p",), pid=1, exit_code=0, ok=True)
    assert ok.check() is ok


@pytest.mark.parametrize(
    "error",
    [
        UnknownProgramError("x", ()),
        ForbiddenProgramError("x"),
        ProgramNotFoundError("x", None),
        StreamBackendUnavailable("x"),
        TimeoutExpired(_result(), 1),
        CommandFailed(_result()),
    ],
)
def test_every_error_is_caught_by_except_cuprum_error(error: CuprumError) -> None:
    with pytest.raises(CuprumError):
        raise error


@pytest.mark.parametrize("bad", ["5", b"5", [5], True])
def test_a_timeout_that_is_not_a_number_is_a_type_error(bad: object) -> None:
    with pytest.raises(TypeError, match="timeout"):
        sh.make(ECHO)("x").run_sync(timeout=bad)
    with pytest.raises(TypeError, match="timeout"):
        ExecutionContext(timeout=bad)  # type: ignore[arg-type]


def test_a_negative_timeout_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="timeout"):
        sh.make(ECHO)("x").run_sync(timeout=-1)
