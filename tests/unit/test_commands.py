"""Builders, argv conversion and `SafeCmd`."""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
from pathlib import Path, PurePosixPath

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cuprum.unsafe
from cuprum import (
    CAT,
    ECHO,
    GREP,
    HEAD,
    LS,
    SORT,
    CommandBuilder,
    ExecEvent,
    ExecutionContext,
    ForbiddenProgramError,
    Pipeline,
    Program,
    ProgramCatalogue,
    ProjectSettings,
    SafeCmd,
    UnknownProgramError,
    sh,
)
from tests.helpers import child_pids, python_child

ECHO_ARGS = python_child("import sys, json; sys.stdout.write(json.dumps(sys.argv[1:]))")


class _FsPath:
    """A minimal os.PathLike that is not a pathlib object."""

    def __init__(self, path: str | bytes) -> None:
        self._path = path

    def __fspath__(self) -> str | bytes:
        return self._path


# --- sh.make and builders ---------------------------------------------------


def test_make_returns_a_builder_for_the_program() -> None:
    builder = sh.make(ECHO)
    assert isinstance(builder, CommandBuilder)
    assert builder.program == "echo"
    assert builder().argv == ("echo",)


def test_make_accepts_a_plain_string_in_the_catalogue() -> None:
    assert sh.make("cat")("-").argv == ("cat", "-")


def test_make_unknown_program_raises_unknown_program_error() -> None:
    with pytest.raises(UnknownProgramError) as info:
        sh.make("definitely-not-in-catalogue")
    assert "definitely-not-in-catalogue" in str(info.value)
    assert "coreutils" in str(info.value)


def test_make_with_custom_catalogue() -> None:
    tool = Program("my-tool")
    catalogue = ProgramCatalogue(projects=(ProjectSettings(name="mine", programs=(tool,)),))
    assert sh.make(tool, catalogue=catalogue)("x").argv == ("my-tool", "x")
    with pytest.raises(UnknownProgramError, match="mine"):
        sh.make(ECHO, catalogue=catalogue)


def test_make_refuses_program_outside_scope_allowlist() -> None:
    with sh.scoped(allowlist=[ECHO]):
        sh.make(ECHO)
        with pytest.raises(ForbiddenProgramError, match="'cat'"):
            sh.make(CAT)
    sh.make(CAT)  # allowed again once the scope is left


def test_nested_scope_cannot_widen_the_allowlist() -> None:
    with sh.scoped(allowlist=[ECHO]), sh.scoped(allowlist=[ECHO, CAT]):
        with pytest.raises(ForbiddenProgramError):
            sh.make(CAT)
        sh.make(ECHO)


# --- argv conversion ---------------------------------------------------------


def test_str_arguments_are_kept_verbatim() -> None:
    cmd = sh.make(ECHO)("a b", "'q'", "$(id)", ";", "*", "")
    assert cmd.argv == ("echo", "a b", "'q'", "$(id)", ";", "*", "")


def test_int_and_float_arguments_use_str() -> None:
    assert sh.make(ECHO)(0, -3, 10**20, 1.5, 2e-07).argv == (
        "echo",
        "0",
        "-3",
        str(10**20),
        "1.5",
        "2e-07",
    )


def test_pathlike_arguments_use_fspath() -> None:
    cmd = sh.make(CAT)(Path("/tmp/a b"), PurePosixPath("rel/x"), _FsPath("/p"))
    assert cmd.argv == ("cat", "/tmp/a b", "rel/x", "/p")


def test_bytes_pathlike_is_decoded() -> None:
    assert sh.make(CAT)(_FsPath(b"/bytes/path")).argv == ("cat", "/bytes/path")


def test_decodable_bytes_are_decoded_with_fs_encoding() -> None:
    assert sh.make(ECHO)(b"plain", "é".encode()).argv == ("echo", "plain", "é")


def test_undecodable_bytes_are_rejected() -> None:
    with pytest.raises(ValueError, match="filesystem encoding"):
        sh.make(ECHO)(b"\xff\xfe")


def test_none_argument_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="None"):
        sh.make(ECHO)("a", None)


@pytest.mark.parametrize("value", [True, False])
def test_bool_positional_is_a_type_error(value: bool) -> None:
    with pytest.raises(TypeError, match="bool"):
        sh.make(ECHO)(value)


@pytest.mark.parametrize("value", [object(), ["a"], {"a": 1}, 1j])
def test_unsupported_argument_types_are_type_errors(value: object) -> None:
    with pytest.raises(TypeError):
        sh.make(ECHO)(value)


@pytest.mark.parametrize("value", ["a\0b", b"a\0b", Path("a\0b"), _FsPath("x\0"), _FsPath(b"x\0")])
def test_nul_in_argument_is_a_value_error(value: object) -> None:
    with pytest.raises(ValueError, match="NUL"):
        sh.make(ECHO)(value)


def test_nul_is_rejected_before_anything_is_spawned() -> None:
    before = child_pids()
    with pytest.raises(ValueError, match="NUL"):
        cuprum.unsafe.dynamic(["echo", "ok", "bad\0"])
    with pytest.raises(ValueError, match="NUL"):
        sh.make(ECHO)(flag="x\0y")
    assert child_pids() == before


# --- flags -------------------------------------------------------------------


def test_one_letter_flags_are_short_options() -> None:
    assert sh.make(LS)(l=True).argv == ("ls", "-l")
    assert sh.make(HEAD)(n=1).argv == ("head", "-n", "1")
    assert sh.make(HEAD)("file", n=-5).argv == ("head", "-n", "-5", "file")
    assert sh.make(LS)(l=False, a=True, sort="size").argv == ("ls", "-a", "--sort=size")


async def test_short_flags_mean_what_the_tool_reads(anyio_backend: str) -> None:
    result = await sh.make(HEAD)(n=2).run(stdin="one\ntwo\nthree\n")
    assert result.stdout == "one\ntwo\n"
    long_listing = await sh.make(LS)("/", l=True, d=True).run()
    assert long_listing.stdout is not None
    assert long_listing.stdout.startswith("d")  # the mode column of `ls -l -d /`


def test_flag_underscores_become_dashes() -> None:
    assert sh.make(GREP)(name_with_underscores="value").argv == (
        "grep",
        "--name-with-underscores=value",
    )


def test_true_flag_is_bare_and_false_flag_is_omitted() -> None:
    assert sh.make(SORT)(reverse=True, unique=False).argv == ("sort", "--reverse")


def test_flag_values_are_converted_like_arguments() -> None:
    cmd = sh.make(SORT)(parallel=4, buffer_size=1.5, output=Path("/tmp/o"))
    assert cmd.argv == ("sort", "--parallel=4", "--buffer-size=1.5", "--output=/tmp/o")


def test_none_flag_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="flag"):
        sh.make(SORT)(key=None)


def test_flags_come_before_positional_arguments() -> None:
    cmd = sh.make(GREP)("pattern", "file", count=True, max_count=2)
    assert cmd.argv == ("grep", "--count", "--max-count=2", "pattern", "file")


def test_flag_value_with_spaces_stays_one_entry() -> None:
    assert sh.make(GREP)(regexp="a b; c").argv == ("grep", "--regexp=a b; c")


# --- SafeCmd -----------------------------------------------------------------


def test_safecmd_fields() -> None:
    cmd = sh.make(ECHO)("hi")
    assert cmd.program == "echo"
    assert cmd.argv == ("echo", "hi")
    assert isinstance(cmd.argv, tuple)
    assert cmd.context is None
    assert cmd.ok_codes is None
    assert cmd.unsafe is False


def test_safecmd_is_immutable() -> None:
    cmd = sh.make(ECHO)("hi")
    with pytest.raises(dataclasses.FrozenInstanceError):
        cmd.argv = ("rm", "-rf", "/")  # type: ignore[misc]
    with pytest.raises((dataclasses.FrozenInstanceError, AttributeError, TypeError)):
        cmd.extra = 1  # type: ignore[attr-defined]


def test_safecmd_is_hashable_and_equal_by_value() -> None:
    a = sh.make(ECHO)("hi", 1)
    b = sh.make(ECHO)("hi", "1")
    assert a == b
    assert hash(a) == hash(b)
    assert len({a, b, sh.make(ECHO)("other")}) == 2


def test_safecmd_with_context_is_hashable() -> None:
    cmd = sh.make(ECHO)("hi").with_context(env={"A": "1"}, cwd="/", timeout=3)
    assert hash(cmd) == hash(sh.make(ECHO)("hi").with_context(env={"A": "1"}, cwd="/", timeout=3))


@pytest.mark.parametrize(
    "args",
    [
        ("plain",),
        ("two words", "it's", '"dq"'),
        ("$(id)", ";", "*", "|", "&&"),
        ("",),
    ],
)
def test_repr_is_shlex_join_of_argv(args: tuple[str, ...]) -> None:
    cmd = sh.make(ECHO)(*args)
    assert repr(cmd) == shlex.join(cmd.argv)
    assert shlex.split(repr(cmd)) == list(cmd.argv)


def test_with_context_returns_a_copy_with_the_context() -> None:
    cmd = sh.make(ECHO)("hi")
    ctx = ExecutionContext(timeout=5, env={"A": "1"})
    copy = cmd.with_context(ctx)
    assert copy is not cmd
    assert copy.context == ctx
    assert copy.argv == cmd.argv
    assert cmd.context is None


def test_with_context_accepts_fields() -> None:
    copy = sh.make(ECHO)().with_context(cwd="/tmp", cancel_grace=0.5)
    assert copy.context is not None
    assert copy.context.cwd == "/tmp"
    assert copy.context.cancel_grace == 0.5


def test_with_context_layers_over_existing_context() -> None:
    cmd = sh.make(ECHO)().with_context(env={"A": "1", "B": "1"}, timeout=5, cwd="/")
    layered = cmd.with_context(env={"B": "2"}, timeout=9)
    assert layered.context is not None
    assert dict(layered.context.env or {}) == {"A": "1", "B": "2"}
    assert layered.context.timeout == 9
    assert layered.context.cwd == "/"


def test_with_ok_codes_returns_a_copy() -> None:
    cmd = sh.make(GREP)("x")
    copy = cmd.with_ok_codes([0, 1, 1])
    assert copy.ok_codes == frozenset({0, 1})
    assert cmd.ok_codes is None
    assert copy.argv == cmd.argv


@pytest.mark.parametrize("bad", [[True], ["1"], [1.0]])
def test_with_ok_codes_rejects_non_ints(bad: list[object]) -> None:
    with pytest.raises(TypeError, match="ok_codes"):
        sh.make(GREP)("x").with_ok_codes(bad)  # type: ignore[arg-type]


# --- pipelines -----------------------------------------------------------------


def test_or_builds_a_pipeline() -> None:
    a, b = sh.make(ECHO)("x"), sh.make(CAT)()
    pipeline = a | b
    assert isinstance(pipeline, Pipeline)
    assert pipeline.stages == (a, b)


def test_or_chains_stay_flat() -> None:
    a, b, c, d = (sh.make(ECHO)(str(i)) for i in range(4))
    assert (a | b | c | d).stages == (a, b, c, d)
    assert ((a | b) | (c | d)).stages == (a, b, c, d)
    assert (a | (b | c)).stages == (a, b, c)
    assert all(isinstance(stage, SafeCmd) for stage in (a | (b | c) | d).stages)


def test_or_with_non_command_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        _ = sh.make(ECHO)() | "cat"  # type: ignore[operator]


def test_pipeline_repr_joins_stage_reprs() -> None:
    pipeline = sh.make(ECHO)("a b") | sh.make(CAT)()
    assert repr(pipeline) == "echo 'a b' | cat"


# --- cuprum.unsafe.dynamic -----------------------------------------------------


def test_dynamic_builds_an_unsafe_command() -> None:
    cmd = cuprum.unsafe.dynamic(["/usr/bin/env", "x y", 3, Path("/p")])
    assert cmd.program == "/usr/bin/env"
    assert cmd.argv == ("/usr/bin/env", "x y", "3", "/p")
    assert cmd.unsafe is True


def test_dynamic_accepts_any_iterable() -> None:
    assert cuprum.unsafe.dynamic(iter(["echo", "a"])).argv == ("echo", "a")


@pytest.mark.parametrize("argv", [[], ()])
def test_dynamic_empty_argv_is_a_value_error(argv: list[str]) -> None:
    with pytest.raises(ValueError, match="non-empty"):
        cuprum.unsafe.dynamic(argv)


def test_dynamic_empty_program_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        cuprum.unsafe.dynamic(["", "x"])


def test_dynamic_rejects_none_entry() -> None:
    with pytest.raises(TypeError):
        cuprum.unsafe.dynamic(["echo", None])


def test_dynamic_ignores_the_catalogue_and_scope() -> None:
    with sh.scoped(allowlist=[ECHO]):
        cmd = cuprum.unsafe.dynamic(["some-unlisted-tool"])
    assert cmd.program == "some-unlisted-tool"


def test_dynamic_command_is_marked_unsafe_in_every_event() -> None:
    events: list[ExecEvent] = []
    with sh.scoped(), sh.observe(events.append):
        result = cuprum.unsafe.dynamic(python_child("print('a'); print('b')")).run_sync()
    assert result.ok
    assert {str(event.phase) for event in events} >= {"plan", "start", "stdout", "exit"}
    assert all(event.unsafe for event in events)


def test_catalogue_command_is_not_marked_unsafe_in_events() -> None:
    events: list[ExecEvent] = []
    with sh.scoped(), sh.observe(events.append):
        sh.make(ECHO)("x").run_sync()
    assert events
    assert not any(event.unsafe for event in events)


# --- properties ----------------------------------------------------------------

_values = st.one_of(st.text(), st.integers())


@settings(max_examples=200)
@given(st.lists(_values, max_size=8))
def test_no_value_smuggles_a_nul_into_argv(values: list[str | int]) -> None:
    has_nul = any(isinstance(v, str) and "\0" in v for v in values)
    try:
        cmd = sh.make(ECHO)(*values)
    except ValueError:
        assert has_nul
        return
    assert not has_nul
    assert all("\0" not in entry for entry in cmd.argv)
    assert len(cmd.argv) == 1 + len(values)
    assert cmd.argv[1:] == tuple(str(v) for v in values)


@settings(max_examples=200)
@given(st.dictionaries(st.from_regex(r"[a-z][a-z_]{0,8}", fullmatch=True), _values))
def test_no_flag_smuggles_a_nul_into_argv(flags: dict[str, str | int]) -> None:
    has_nul = any(isinstance(v, str) and "\0" in v for v in flags.values())
    try:
        cmd = sh.make(SORT)(**flags)
    except ValueError:
        assert has_nul
        return
    assert not has_nul
    assert all("\0" not in entry for entry in cmd.argv)
    # A long flag is one entry; a one-letter flag with a value is two.
    assert len(cmd.argv) == 1 + sum(2 if len(name) == 1 else 1 for name in flags)


_shellish = st.sampled_from(
    ["a b", "'", '"', "$(id)", "`id`", ";", "*", "|", "&", "\\", "\n", "$HOME", "~", ""]
)
_argv_text = st.one_of(
    _shellish,
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0")),
)


@pytest.mark.parametrize("loop", ["asyncio", "trio"])
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(values=st.lists(st.one_of(_argv_text, st.integers()), max_size=6))
def test_each_value_reaches_the_child_as_exactly_one_argv_entry(
    loop: str, values: list[str | int]
) -> None:
    cmd = cuprum.unsafe.dynamic([*ECHO_ARGS, *values])
    result = cmd.run_sync(backend=loop, check=True)
    assert json.loads(result.stdout or "") == [str(v) for v in values]


def test_shell_metacharacters_reach_the_child_verbatim() -> None:
    values = ["a b", "$(id)", ";", "*", "'x'", '"y"', "&& echo pwned", "$HOME", "\t"]
    result = cuprum.unsafe.dynamic([*ECHO_ARGS, *values]).run_sync(check=True)
    assert json.loads(result.stdout or "") == values


def test_glob_is_not_expanded_in_child_cwd(tmp_path: Path) -> None:
    (tmp_path / "file1").touch()
    result = cuprum.unsafe.dynamic([*ECHO_ARGS, "*"]).run_sync(
        context=ExecutionContext(cwd=tmp_path), check=True
    )
    assert json.loads(result.stdout or "") == ["*"]
    assert os.listdir(tmp_path) == ["file1"]
