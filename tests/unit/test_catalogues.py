"""Own catalogues: set per scope, checked at start-up, and helpful when a name is wrong."""

from __future__ import annotations

import pydoc
import sys
from pathlib import Path

import anyio
import pytest

import cuprum
from cuprum import (
    CAT,
    DEFAULT_CATALOGUE,
    ECHO,
    FALSE,
    TRUE,
    CommandBuilder,
    ForbiddenProgramError,
    Program,
    ProgramCatalogue,
    ProjectSettings,
    UnknownProgramError,
    sh,
)

pytestmark = pytest.mark.usefixtures("no_registration_leaks")

NOWHERE = Program("cuprum-test-no-such-program")

OUTER = ProgramCatalogue(projects=(ProjectSettings(name="outer", programs=(TRUE, ECHO)),))
INNER = ProgramCatalogue(projects=(ProjectSettings(name="inner", programs=(FALSE,)),))


def catalogue_of(*programs: Program) -> ProgramCatalogue:
    return ProgramCatalogue(projects=(ProjectSettings(name="own", programs=programs),))


def test_scoped_catalogue_is_used_by_make_inside_the_block() -> None:
    with sh.scoped(catalogue=OUTER):
        assert sh.make(TRUE).program == "true"
        with pytest.raises(UnknownProgramError, match=r"projects: outer\)"):
            sh.make(CAT)
    assert sh.make(CAT).program == "cat"


def test_inner_scoped_catalogue_wins_and_the_outer_one_comes_back() -> None:
    with sh.scoped(catalogue=OUTER):
        with sh.scoped(catalogue=INNER):
            assert sh.make(FALSE).program == "false"
            with pytest.raises(UnknownProgramError, match="inner"):
                sh.make(TRUE)
        assert sh.make(TRUE).program == "true"
        with pytest.raises(UnknownProgramError, match="outer"):
            sh.make(FALSE)


def test_a_scope_without_catalogue_keeps_the_outer_one() -> None:
    with sh.scoped(catalogue=INNER), sh.scoped(timeout=5):
        assert sh.make(FALSE).program == "false"
        with pytest.raises(UnknownProgramError):
            sh.make(TRUE)


def test_explicit_catalogue_wins_over_the_scopes() -> None:
    with sh.scoped(catalogue=INNER):
        assert sh.make(TRUE, catalogue=OUTER).program == "true"
        assert sh.make(CAT, catalogue=DEFAULT_CATALOGUE).program == "cat"
        with pytest.raises(UnknownProgramError, match="outer"):
            sh.make(FALSE, catalogue=OUTER)


def test_allowlist_still_applies_to_a_scoped_catalogue() -> None:
    with sh.scoped(catalogue=OUTER, allowlist={ECHO}):
        assert sh.make(ECHO).program == "echo"
        with pytest.raises(ForbiddenProgramError, match="'true'"):
            sh.make(TRUE)
    with (
        sh.scoped(allowlist={ECHO}),
        sh.scoped(catalogue=OUTER),
        pytest.raises(ForbiddenProgramError, match="'true'"),
    ):
        sh.make(TRUE)


def test_scoped_refuses_what_is_not_a_catalogue() -> None:
    with pytest.raises(TypeError, match="ProgramCatalogue"), sh.scoped(catalogue=[TRUE]):  # type: ignore[arg-type]
        pass  # pragma: no cover


async def test_tasks_started_in_the_scope_use_its_catalogue(anyio_backend: str) -> None:
    made: list[CommandBuilder] = []

    async def build_and_run() -> None:
        builder = sh.make(TRUE)
        made.append(builder)
        assert (await builder().run()).ok

    with sh.scoped(catalogue=catalogue_of(TRUE)):
        async with anyio.create_task_group() as tg:
            tg.start_soon(build_and_run)
    assert [builder.program for builder in made] == ["true"]


async def test_run_time_allowlist_refuses_a_command_from_a_scoped_catalogue(
    anyio_backend: str,
) -> None:
    with sh.scoped(catalogue=catalogue_of(TRUE)):
        cmd = sh.make(TRUE)()
    with sh.scoped(allowlist={ECHO}), pytest.raises(ForbiddenProgramError):
        await cmd.run()


def test_missing_returns_only_programs_not_on_path() -> None:
    assert catalogue_of(ECHO, NOWHERE).missing() == frozenset({NOWHERE})


def test_missing_is_empty_when_everything_is_found() -> None:
    assert catalogue_of(ECHO, CAT).missing() == frozenset()


def test_missing_finds_a_program_given_as_a_path_to_an_executable(tmp_path: Path) -> None:
    plain = tmp_path / "plain.txt"
    plain.write_text("not a program\n")
    catalogue = catalogue_of(Program(sys.executable), Program(str(plain)), Program(str(tmp_path)))
    assert catalogue.missing() == frozenset({str(plain), str(tmp_path)})


def test_missing_searches_the_current_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tool = tmp_path / "cuprum-test-tool"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert catalogue_of(Program(tool.name), ECHO).missing() == frozenset({ECHO})


def test_unknown_program_suggests_the_closest_name() -> None:
    with pytest.raises(UnknownProgramError) as caught:
        sh.make("gerp")
    assert "grep" in caught.value.suggestions
    assert "did you mean 'grep'" in str(caught.value)
    assert caught.value.program == "gerp"


def test_unknown_program_suggests_from_the_scoped_catalogue() -> None:
    with sh.scoped(catalogue=OUTER), pytest.raises(UnknownProgramError) as caught:
        sh.make("ehco")
    assert caught.value.suggestions == ("echo",)


def test_unknown_program_without_a_close_name_suggests_nothing() -> None:
    with pytest.raises(UnknownProgramError) as caught:
        sh.make(NOWHERE)
    assert caught.value.suggestions == ()
    assert "did you mean" not in str(caught.value)


def test_unknown_program_error_lists_several_suggestions() -> None:
    err = UnknownProgramError("lnt", ["own"], suggestions=["lint", "list", "lent"])
    assert err.suggestions == ("lint", "list", "lent")
    assert str(err).endswith("did you mean 'lint', 'list' or 'lent'?")
    assert UnknownProgramError("x", ["own"]).suggestions == ()


def test_help_of_make_does_not_print_the_default_catalogue() -> None:
    text = pydoc.render_doc(sh.make)
    assert "sha256sum" not in text
    assert "catalogue" in text


def test_help_of_program_says_what_a_program_is() -> None:
    text = pydoc.render_doc(cuprum.Program)
    assert "The name (or path) of an executable" in text
    assert "NewType creates simple unique types" not in text
