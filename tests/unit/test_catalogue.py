"""Programs, projects and the catalogue that says what cuprum may run."""

from __future__ import annotations

import dataclasses

import pytest

import cuprum
from cuprum import (
    DEFAULT_CATALOGUE,
    Program,
    ProgramCatalogue,
    ProjectSettings,
    UnknownProgramError,
)

TOOLS = Program("tools")
LINT = Program("lint")
FMT = Program("fmt")


@pytest.fixture
def catalogue() -> ProgramCatalogue:
    return ProgramCatalogue(
        projects=(
            ProjectSettings(name="alpha", programs=(TOOLS, LINT)),
            ProjectSettings(
                name="beta",
                programs=(FMT,),
                documentation_locations=("https://example.invalid/beta",),
                noise_rules=("^warning:",),
            ),
        )
    )


def test_program_is_a_str_newtype() -> None:
    program = Program("echo")
    assert program == "echo"
    assert type(program) is str


def test_project_settings_defaults_are_empty_tuples() -> None:
    project = ProjectSettings(name="p", programs=(Program("x"),))
    assert project.documentation_locations == ()
    assert project.noise_rules == ()


def test_project_settings_stores_any_iterable_as_tuple_and_is_hashable() -> None:
    project = ProjectSettings(
        name="p",
        programs=[Program("a"), Program("b")],  # type: ignore[arg-type]
        documentation_locations=["doc"],  # type: ignore[arg-type]
        noise_rules=["rule"],  # type: ignore[arg-type]
    )
    assert project.programs == ("a", "b")
    assert project.documentation_locations == ("doc",)
    assert project.noise_rules == ("rule",)
    assert hash(project) == hash(
        ProjectSettings(
            name="p",
            programs=(Program("a"), Program("b")),
            documentation_locations=("doc",),
            noise_rules=("rule",),
        )
    )


def test_project_settings_is_frozen() -> None:
    project = ProjectSettings(name="p", programs=(Program("x"),))
    with pytest.raises(dataclasses.FrozenInstanceError):
        project.name = "q"  # type: ignore[misc]


@pytest.mark.parametrize("bad", ["", "a\0b"])
def test_project_settings_rejects_invalid_program_names(bad: str) -> None:
    with pytest.raises(ValueError, match="invalid program name"):
        ProjectSettings(name="p", programs=(Program(bad),))


def test_lookup_returns_the_project_listing_the_program(
    catalogue: ProgramCatalogue,
) -> None:
    assert catalogue.lookup(TOOLS).name == "alpha"
    assert catalogue.lookup("fmt").name == "beta"


def test_a_program_in_two_projects_is_refused_naming_both() -> None:
    with pytest.raises(ValueError, match="'lint'") as caught:
        ProgramCatalogue(
            projects=(
                ProjectSettings(name="alpha", programs=(TOOLS, LINT)),
                ProjectSettings(name="beta", programs=(FMT, LINT)),
            )
        )
    assert "'alpha'" in str(caught.value)
    assert "'beta'" in str(caught.value)


def test_a_program_repeated_in_one_project_is_fine() -> None:
    catalogue = ProgramCatalogue(projects=(ProjectSettings(name="one", programs=(LINT, LINT)),))
    assert catalogue.lookup(LINT).name == "one"


def test_lookup_returns_project_with_its_notes(catalogue: ProgramCatalogue) -> None:
    project = catalogue.lookup(FMT)
    assert project.documentation_locations == ("https://example.invalid/beta",)
    assert project.noise_rules == ("^warning:",)


def test_allowlist_is_frozenset_of_every_program(catalogue: ProgramCatalogue) -> None:
    assert isinstance(catalogue.allowlist, frozenset)
    assert catalogue.allowlist == frozenset({TOOLS, LINT, FMT})


def test_is_allowed(catalogue: ProgramCatalogue) -> None:
    assert catalogue.is_allowed(TOOLS)
    assert catalogue.is_allowed("fmt")
    assert not catalogue.is_allowed("rm")
    assert not catalogue.is_allowed("")


def test_unknown_program_error_names_program_and_projects(
    catalogue: ProgramCatalogue,
) -> None:
    with pytest.raises(UnknownProgramError) as info:
        catalogue.lookup("rm")
    message = str(info.value)
    assert "'rm'" in message
    assert "alpha" in message
    assert "beta" in message
    assert info.value.program == "rm"
    assert info.value.projects == ("alpha", "beta")


def test_unknown_program_error_is_a_lookup_error(catalogue: ProgramCatalogue) -> None:
    with pytest.raises(LookupError):
        catalogue.lookup("rm")


def test_empty_catalogue_allows_nothing() -> None:
    empty = ProgramCatalogue(projects=())
    assert empty.allowlist == frozenset()
    assert not empty.is_allowed("echo")
    with pytest.raises(UnknownProgramError, match="'echo'"):
        empty.lookup("echo")


def test_catalogue_accepts_a_list_of_projects_and_is_hashable() -> None:
    project = ProjectSettings(name="p", programs=(Program("x"),))
    catalogue = ProgramCatalogue(projects=[project])  # type: ignore[arg-type]
    assert catalogue.projects == (project,)
    assert hash(catalogue) == hash(ProgramCatalogue(projects=(project,)))
    assert catalogue == ProgramCatalogue(projects=(project,))


SPEC_CONSTANTS = {
    "ECHO": "echo",
    "CAT": "cat",
    "PRINTF": "printf",
    "TRUE": "true",
    "FALSE": "false",
    "SLEEP": "sleep",
    "ENV": "env",
    "LS": "ls",
    "GREP": "grep",
    "HEAD": "head",
    "TAIL": "tail",
    "WC": "wc",
    "SORT": "sort",
    "UNIQ": "uniq",
    "TR": "tr",
    "SED": "sed",
    "CUT": "cut",
    "GZIP": "gzip",
    "SHA256SUM": "sha256sum",
    "GIT": "git",
    "RSYNC": "rsync",
    "TAR": "tar",
}


@pytest.mark.parametrize(("name", "program"), sorted(SPEC_CONSTANTS.items()))
def test_default_catalogue_constant_is_exported_and_allowed(name: str, program: str) -> None:
    constant = getattr(cuprum, name)
    assert constant == program
    assert DEFAULT_CATALOGUE.is_allowed(constant)
    assert constant in DEFAULT_CATALOGUE.allowlist
    assert DEFAULT_CATALOGUE.lookup(constant).name


@pytest.mark.parametrize("name", ["YES", "TEE", "PWD", "SH", "PYTHON"])
def test_extra_default_constants_are_in_the_default_catalogue(name: str) -> None:
    assert DEFAULT_CATALOGUE.is_allowed(getattr(cuprum, name))


def test_default_catalogue_does_not_allow_arbitrary_programs() -> None:
    for program in ("rm", "curl", "bash", "sudo"):
        assert not DEFAULT_CATALOGUE.is_allowed(program)
    with pytest.raises(UnknownProgramError):
        DEFAULT_CATALOGUE.lookup("rm")
