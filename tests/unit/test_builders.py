"""`cuprum.builders`: SafePath, GitRef and the git / rsync / tar builders."""

from __future__ import annotations

import os
import pickle
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from cuprum import (
    GIT,
    TAR,
    ExecutionContext,
    ForbiddenProgramError,
    Program,
    ProgramCatalogue,
    ProjectSettings,
    SafeCmd,
    UnknownProgramError,
    sh,
)
from cuprum.builders import Git, GitRef, Rsync, SafePath, Tar, git, rsync, tar

# --------------------------------------------------------------------------
# Strategies: hostile text, biased towards what could smuggle an option.

NASTY = [
    "-",
    "--",
    "-rf",
    "--upload-pack=touch /tmp/pwned",
    "-oProxyCommand=id:x",
    "--exec=sh",
    "-C/",
    "host:path",
    "ext::sh -c id",
    "a\0b",
    "\0",
    "",
    " ",
    "..",
    "../..",
    "./-x",
    "-\n",
    "\n-x",
    "x\r\n",
]

hostile_text = st.one_of(
    st.text(),  # every code point but surrogates: controls and NUL included
    st.text().map(lambda s: "-" + s),
    st.text().map(lambda s: "--" + s),
    st.text(alphabet=st.characters(max_codepoint=0x7F)),
    st.sampled_from(NASTY),
)

# Builder-owned option entries: anything else starting with "-" before the
# end-of-options marker would be a smuggled option.
OWN_FLAGS = frozenset(
    {"--bare", "--literal-pathspecs", "--verify", "--archive", "--delete", "--dry-run"}
    | {"--create", "--gzip", "--extract", "--list"}
    | {"--all", "--update", "--allow-empty", "--cleanup=verbatim", "--porcelain", "--cached"}
    | {"--stat", "--force", "--annotate", "--prune", "--set-upstream", "--tags"}
)
OWN_VALUE_OPTIONS = (
    "--message=",
    "--initial-branch=",
    "--branch=",
    "--depth=",
    "--max-count=",
    "--format=",
    "--exclude=",
    "--file=",
    "--directory=",
)


def assert_no_smuggling(cmd: SafeCmd, operands: Iterable[str] = ()) -> None:
    """Every entry is NUL-free; before ``--`` every option is the builder's own.

    ``operands`` are the user values expected after ``--``, in order.
    """
    args = cmd.argv[1:]
    for entry in cmd.argv:
        assert "\0" not in entry, cmd.argv
    end = args.index("--") if "--" in args else len(args)
    for entry in args[:end]:
        if entry.startswith("-"):
            assert entry in OWN_FLAGS or entry.startswith(OWN_VALUE_OPTIONS), (entry, cmd.argv)
    expected = list(operands)
    if expected:
        assert list(args[end + 1 :]) == expected, cmd.argv


def attempt(build: Callable[[], SafeCmd], *values: object) -> SafeCmd | None:
    """Build, or check that the ValueError names one of the rejected values."""
    try:
        return build()
    except ValueError as exc:
        message = str(exc)
        assert any(repr(v) in message for v in values), (message, values)
        return None


def local(path: str) -> str:
    """What the builders emit for a relative path (see local_operand)."""
    head = path.split("/", 1)[0]
    return "./" + path if ":" in head and not path.startswith("/") else path


# --------------------------------------------------------------------------
# SafePath


def test_safepath_is_a_frozen_pathlike_value(tmp_path: Path) -> None:
    path = SafePath("data/file.txt")
    assert os.fspath(path) == str(path) == path.path == "data/file.txt"
    assert path.base is None
    assert isinstance(path, os.PathLike)
    assert path == SafePath(Path("data/file.txt"))
    assert hash(path) == hash(SafePath("data/file.txt"))
    assert path != "data/file.txt"
    assert repr(path) == "SafePath('data/file.txt')"
    with pytest.raises(AttributeError):
        path._path = "-x"  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(path)) == path
    confined = SafePath("x", base=tmp_path)
    assert pickle.loads(pickle.dumps(confined)) == confined


def test_safepath_accepts_str_bytes_and_pathlike() -> None:
    assert SafePath(b"a/b").path == "a/b"
    assert SafePath(Path("/etc")).path == "/etc"
    assert SafePath(SafePath("x")).path == "x"
    assert SafePath("has space\nand newline").path == "has space\nand newline"


@pytest.mark.parametrize("value", [None, 3, 1.5, True, ["a"], object()])
def test_safepath_rejects_non_paths_with_type_error(value: object) -> None:
    with pytest.raises(TypeError, match=r"must be str, bytes or os\.PathLike"):
        SafePath(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "empty"),
        ("a\0b", "NUL"),
        (b"a\0b", "NUL"),
        (b"\xff\xfe", "does not decode"),
        ("-x", "could be read as an option"),
        ("--help", "could be read as an option"),
        ("-", "could be read as an option"),
    ],
)
def test_safepath_rejections_name_the_value(value: str | bytes, reason: str) -> None:
    with pytest.raises(ValueError, match=reason) as info:
        SafePath(value)
    names = {repr(value)}
    if isinstance(value, bytes):
        names.add(repr(value.decode(errors="replace")))
    assert any(name in str(info.value) for name in names), str(info.value)


def test_leading_dash_hint_and_allow_dash() -> None:
    with pytest.raises(ValueError, match=re.escape("write './-x'")):
        SafePath("-x")
    assert SafePath("./-x").path == "./-x"
    assert SafePath("-", allow_dash=True).path == "-"


def test_base_confines_relative_and_absolute_paths(tmp_path: Path) -> None:
    base = tmp_path.resolve()
    assert SafePath("a/b", base=base).path == str(base / "a" / "b")
    assert SafePath("a/../b", base=base).path == str(base / "b")
    assert SafePath(".", base=base).path == str(base)
    assert SafePath(base / "x", base=base).path == str(base / "x")
    assert SafePath("sub/", base=base).path == str(base / "sub") + "/"  # rsync meaning kept
    assert SafePath("-x", allow_dash=True, base=base).path == str(base / "-x")
    assert SafePath("x", base=base).base == str(base)


@pytest.mark.parametrize("value", ["..", "../x", "a/../../x", "/etc/passwd", "/"])
def test_base_rejects_escapes_naming_the_value(tmp_path: Path, value: str) -> None:
    base = tmp_path / "base"
    base.mkdir()
    with pytest.raises(ValueError, match="outside the base directory") as info:
        SafePath(value, base=base)
    assert repr(value) in str(info.value)


def test_base_follows_symlinks(tmp_path: Path) -> None:
    base = tmp_path / "base"
    (base / "inside").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (base / "out").symlink_to(tmp_path / "outside")
    (base / "in").symlink_to(base / "inside")
    with pytest.raises(ValueError, match="outside the base directory"):
        SafePath("out/secret", base=base)
    assert SafePath("in/x", base=base).path == str((base / "inside" / "x").resolve())
    # A base that is itself a symlink is resolved too.
    (tmp_path / "alias").symlink_to(base)
    assert SafePath("inside", base=tmp_path / "alias").path == str((base / "inside").resolve())


def test_base_is_validated(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="base directory is empty"):
        SafePath("x", base="")
    with pytest.raises(ValueError, match="NUL"):
        SafePath("x", base=f"{tmp_path}\0")
    with pytest.raises(TypeError, match="base must be"):
        SafePath("x", base=3)  # type: ignore[arg-type]


@given(text=hostile_text, allow_dash=st.booleans())
@example(text="-rf", allow_dash=False)
@example(text="a\0b", allow_dash=True)
def test_property_safepath_never_holds_an_option_or_nul(text: str, allow_dash: bool) -> None:
    path = attempt(lambda: SafePath(text, allow_dash=allow_dash), text)
    if path is None:
        assert text == "" or "\0" in text or (text.startswith("-") and not allow_dash)
        return
    assert path.path == text
    assert text
    assert "\0" not in text
    assert allow_dash or not text.startswith("-")


@pytest.fixture(scope="module")
def confinement_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A base directory with symlinks pointing inside (``self``) and out (``up``)."""
    base = tmp_path_factory.mktemp("safepath-base").resolve()
    (base / "dir").mkdir()
    (base / "up").symlink_to(base.parent)
    (base / "self").symlink_to(base / "dir")
    return base


path_component = st.sampled_from(["..", ".", "dir", "up", "self", "a", "-b", "", "c:d"])


@given(
    parts=st.lists(path_component, max_size=6),
    absolute=st.booleans(),
    trailing=st.booleans(),
)
@example(parts=["dir", "..", ".."], absolute=False, trailing=False)
@example(parts=["up", "x"], absolute=False, trailing=False)
def test_property_base_confinement(
    confinement_base: Path, parts: list[str], absolute: bool, trailing: bool
) -> None:
    base = confinement_base
    text = "/".join(parts) + ("/" if trailing else "")
    if absolute:
        text = f"{base}/{text}"
    path = attempt(lambda: SafePath(text, base=base), text)
    # Relative paths that can only go down are always accepted.
    if text and text[0] not in "-/" and not {"..", "up"} & set(parts):
        assert path is not None, text
    if path is not None:
        resolved = os.path.realpath(path.path)
        assert os.path.commonpath([str(base), resolved]) == str(base), (text, path)
        assert path.path.startswith("/")


# --------------------------------------------------------------------------
# GitRef

VALID_REFS = ["main", "release/1.2", "feature/a-b_c", "v1.0", "HEAD", "a./b", "@x", "x@y", "é"]
INVALID_REFS = [
    ("", "empty"),
    ("-b", "could be read as an option"),
    ("--upload-pack=x", "could be read as an option"),
    ("a..b", "'..'"),
    ("a b", "' '"),
    ("a\tb", "control character"),
    ("a\0b", "control character"),
    ("a\x7fb", "control character"),
    ("a~1", "'~'"),
    ("a^", "'\\^'"),
    ("a:b", "':'"),
    ("a?", "'\\?'"),
    ("a*", "'\\*'"),
    ("a[b", "'\\['"),
    ("a\\b", "'\\\\\\\\'"),
    ("a/", "ends with '/'"),
    ("/a", "starts or ends with '/'"),
    ("a//b", "'//'"),
    ("a.", "ends with '.'"),
    (".a", "starts with '.'"),
    ("a/.b", "starts with '.'"),
    ("a.lock", "ends with '.lock'"),
    ("a.lock/b", "ends with '.lock'"),
    ("@", "'@' alone"),
    ("a@{1}", "'@{'"),
]


@pytest.mark.parametrize("name", VALID_REFS)
def test_gitref_accepts_valid_names(name: str) -> None:
    ref = GitRef(name)
    assert str(ref) == ref.name == name
    assert ref == GitRef(name)
    assert hash(ref) == hash(GitRef(name))


@pytest.mark.parametrize(("name", "reason"), INVALID_REFS)
def test_gitref_rejections_name_the_value(name: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason) as info:
        GitRef(name)
    assert repr(name) in str(info.value)


@pytest.mark.parametrize("value", [None, 3, b"main", Path("main")])
def test_gitref_rejects_non_str(value: object) -> None:
    with pytest.raises(TypeError, match="must be a str"):
        GitRef(value)  # type: ignore[arg-type]


def test_gitref_is_frozen() -> None:
    ref = GitRef("main")
    with pytest.raises(AttributeError):
        ref.name = "-x"  # type: ignore[misc]


ref_tokens = st.sampled_from(
    [
        *["a", "b", "/", ".", "..", "@", "{", "lock", ".lock", "-", "~", "^", ":", "?", "*"],
        *["[", "\\", " ", "\t", "\x7f", "\x01", "é", "//", "HEAD"],
    ]
)
ref_like = st.lists(ref_tokens, max_size=8).map("".join)


@given(name=st.one_of(hostile_text, ref_like))
def test_property_gitref_never_holds_an_option_or_nul(name: str) -> None:
    ref = attempt(lambda: GitRef(name), name)
    if ref is not None:
        assert name
        assert not name.startswith("-")
        assert not any(ord(c) < 32 or ord(c) == 127 for c in name)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
@settings(max_examples=300, deadline=None)
@given(name=st.one_of(ref_like, st.text(max_size=8)))
def test_property_gitref_agrees_with_git_check_ref_format(name: str) -> None:
    assume("\0" not in name and not name.startswith("-"))
    done = subprocess.run(
        ["git", "check-ref-format", "--allow-onelevel", name],
        capture_output=True,
        check=False,
    )
    try:
        GitRef(name)
    except ValueError:
        accepted = False
    else:
        accepted = True
    assert accepted == (done.returncode == 0), name


# --------------------------------------------------------------------------
# Builders: argv shape


def test_git_argv_shapes(tmp_path: Path) -> None:
    assert git.init("repo").argv == ("git", "init", "--", "repo")
    assert git.init(SafePath("r"), bare=True, initial_branch=GitRef("main")).argv == (
        "git", "init", "--bare", "--initial-branch=main", "--", "r",
    )  # fmt: skip
    assert git.clone("https://example.com/x.git", "dest").argv == (
        "git", "clone", "--", "https://example.com/x.git", "dest",
    )  # fmt: skip
    assert git.clone("git@host:x.git", SafePath("d"), branch="v1.0", depth=1).argv == (
        "git", "clone", "--branch=v1.0", "--depth=1", "--", "git@host:x.git", "d",
    )  # fmt: skip
    assert git.clone(SafePath("a:b"), "c:d").argv[-2:] == ("./a:b", "./c:d")
    assert git.checkout("main").argv == ("git", "checkout", "main", "--")
    assert git.log().argv == ("git", "log", "--")
    assert git.log("main", max_count=3, format="%H %s").argv == (
        "git", "log", "--max-count=3", "--format=%H %s", "main", "--",
    )  # fmt: skip
    assert git.log(paths=["./-x", "*.py"]).argv == (
        "git", "--literal-pathspecs", "log", "--", "./-x", "*.py",
    )  # fmt: skip
    assert git.rev_parse(GitRef("HEAD")).argv == ("git", "rev-parse", "--verify", "HEAD")
    cmd = git.rev_parse("main", repo=tmp_path)
    assert cmd.context is not None
    assert cmd.context.cwd == str(tmp_path)
    assert cmd.program == GIT
    assert not cmd.unsafe


def test_rsync_argv_shapes() -> None:
    assert rsync.sync("src/", "dest").argv == ("rsync", "--archive", "--", "src/", "dest")
    assert rsync.sync(
        SafePath("a"), SafePath("b"), archive=False, delete=True, dry_run=True,
        excludes=["*.o", "-x", "--delete"],
    ).argv == (
        "rsync", "--delete", "--dry-run", "--exclude=*.o", "--exclude=-x",
        "--exclude=--delete", "--", "a", "b",
    )  # fmt: skip
    # A colon before the first "/" would make rsync contact a host.
    assert rsync.sync("host:src", "/abs:x").argv[-2:] == ("./host:src", "/abs:x")
    assert rsync.sync("./-x", SafePath("-y", allow_dash=True)).argv[-3:] == ("--", "./-x", "-y")


def test_tar_argv_shapes() -> None:
    assert tar.create("out.tar", ["a", SafePath("./-b")]).argv == (
        "tar", "--create", "--file=out.tar", "--", "a", "./-b",
    )  # fmt: skip
    assert tar.create("o.tgz", ["x"], gzip=True, cwd="/srv").argv == (
        "tar", "--create", "--gzip", "--file=o.tgz", "--directory=/srv", "--", "x",
    )  # fmt: skip
    assert tar.extract("a:b.tar", "dest").argv == (
        "tar", "--extract", "--file=./a:b.tar", "--directory=dest",
    )  # fmt: skip
    assert tar.list(SafePath("-", allow_dash=True)).argv == ("tar", "--list", "--file=-")


@pytest.mark.parametrize(
    ("build", "fragment"),
    [
        (lambda: git.checkout("-b"), "'-b'"),
        (lambda: git.checkout("a..b"), "'a..b'"),
        (lambda: git.init(""), "directory: SafePath: the path is empty"),
        (lambda: git.init("r", initial_branch="bad name"), "'bad name'"),
        (lambda: git.clone("--upload-pack=id", "d"), "'--upload-pack=id'"),
        (lambda: git.clone("ext::sh -c id", "d"), "'ext::sh -c id'"),
        (lambda: git.clone("FD::3", "d"), "'FD::3'"),
        (lambda: git.clone("", "d"), "''"),
        (lambda: git.clone("u\0", "d"), "'u\\x00'"),
        (lambda: git.clone("u", "d", depth=0), "0"),
        (lambda: git.log(max_count=-1), "-1"),
        (lambda: git.log(format="%H\0"), "'%H\\x00'"),
        (lambda: git.log(paths=["ok", "a\0"]), "paths[1]: SafePath: path 'a\\x00'"),
        (lambda: rsync.sync("", "d"), "src: SafePath: the path is empty"),
        (lambda: rsync.sync("s", "-e\0"), "dest: SafePath: path '-e\\x00'"),
        (lambda: rsync.sync("s", "d", excludes=[""]), "excludes[0] is an empty pattern"),
        (lambda: rsync.sync("s", "d", excludes=["a\0"]), "'a\\x00'"),
        (lambda: tar.create("-f", ["x"]), "archive: SafePath: '-f'"),
        (lambda: tar.create("o.tar", []), "paths is empty"),
        (lambda: tar.create("o.tar", ["x"], cwd="--to-command=sh"), "'--to-command=sh'"),
        (lambda: tar.extract("a.tar", "-C"), "dest: SafePath: '-C'"),
    ],
)
def test_builders_reject_values_with_a_message_naming_them(
    build: Callable[[], SafeCmd], fragment: str
) -> None:
    with pytest.raises(ValueError) as info:
        build()
    assert fragment in str(info.value)


@pytest.mark.parametrize(
    "build",
    [
        lambda: git.clone("u", "d", depth=True),  # type: ignore[arg-type]
        lambda: git.clone("u", "d", depth="1"),  # type: ignore[arg-type]
        lambda: git.log(max_count=1.5),  # type: ignore[arg-type]
        lambda: git.checkout(3),  # type: ignore[arg-type]
        lambda: git.init(None),  # type: ignore[arg-type]
        lambda: rsync.sync("s", "d", excludes="*.o"),
        lambda: rsync.sync("s", "d", excludes=[3]),  # type: ignore[list-item]
        lambda: tar.create("o.tar", "abc"),
        lambda: tar.list(42),  # type: ignore[arg-type]
    ],
)
def test_builders_reject_wrong_types(build: Callable[[], SafeCmd]) -> None:
    with pytest.raises(TypeError):
        build()


def test_builders_go_through_the_catalogue_and_the_scope() -> None:
    with sh.scoped(allowlist=[TAR]):
        assert tar.list("a.tar").argv[0] == "tar"
        with pytest.raises(ForbiddenProgramError):
            git.rev_parse("main")
    only_tar = ProgramCatalogue(projects=(ProjectSettings(name="t", programs=(TAR,)),))
    with pytest.raises(UnknownProgramError):
        Git(catalogue=only_tar).rev_parse("main")
    with pytest.raises(UnknownProgramError):
        Rsync(catalogue=only_tar).sync("a", "b")
    assert Tar(catalogue=only_tar).list("a.tar").argv == ("tar", "--list", "--file=a.tar")
    mine = ProgramCatalogue(projects=(ProjectSettings(name="g", programs=(Program("git2"),)),))
    assert Git(Program("git2"), catalogue=mine).checkout("main").argv[0] == "git2"
    assert repr(git) == "Git('git')"


# --------------------------------------------------------------------------
# Builders: no generated value smuggles an option or a NUL into argv

path_text = st.one_of(hostile_text, hostile_text.map(lambda s: "./" + s))
ref_text = st.one_of(hostile_text, ref_like)
path_arg = st.one_of(
    path_text,
    path_text.flatmap(
        lambda s: (
            st.just(s).map(lambda t: SafePath(t, allow_dash=True))
            if s and "\0" not in s
            else st.just(s)
        )
    ),
)
PROPERTY = settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])


def _text(value: object) -> str:
    return value.path if isinstance(value, SafePath) else str(value)


@PROPERTY
@given(directory=path_arg, branch=st.none() | ref_text, bare=st.booleans())
def test_property_git_init(directory: str | SafePath, branch: str | None, bare: bool) -> None:
    cmd = attempt(lambda: git.init(directory, bare=bare, initial_branch=branch), directory, branch)
    if cmd is not None:
        assert_no_smuggling(cmd, [local(_text(directory))])


@PROPERTY
@given(url=path_arg, dest=path_arg, branch=st.none() | ref_text)
def test_property_git_clone(url: str | SafePath, dest: str | SafePath, branch: str | None) -> None:
    cmd = attempt(lambda: git.clone(url, dest, branch=branch, depth=1), url, dest, branch)
    if cmd is not None:
        expected_url = local(url.path) if isinstance(url, SafePath) else url
        assert_no_smuggling(cmd, [expected_url, local(_text(dest))])
        if not isinstance(url, SafePath):
            assert not url.startswith("-")


@PROPERTY
@given(ref=ref_text, repo=st.none() | path_arg)
def test_property_git_ref_commands(ref: str, repo: str | SafePath | None) -> None:
    for build in (git.checkout, git.rev_parse):
        cmd = attempt(lambda b=build: b(ref, repo=repo), ref, repo)  # type: ignore[misc]
        if cmd is not None:
            assert_no_smuggling(cmd)
            assert ref in cmd.argv
            assert not ref.startswith("-")


@PROPERTY
@given(
    ref=st.none() | ref_text,
    fmt=st.none() | hostile_text,
    paths=st.lists(path_arg, max_size=3),
    max_count=st.none() | st.integers(min_value=-2, max_value=5),
)
def test_property_git_log(
    ref: str | None, fmt: str | None, paths: list[str | SafePath], max_count: int | None
) -> None:
    cmd = attempt(
        lambda: git.log(ref, max_count=max_count, format=fmt, paths=paths),
        ref, fmt, max_count, *paths,
    )  # fmt: skip
    if cmd is not None:
        assert_no_smuggling(cmd, [local(_text(p)) for p in paths])


@PROPERTY
@given(
    src=path_arg,
    dest=path_arg,
    excludes=st.lists(hostile_text, max_size=3),
    flags=st.tuples(st.booleans(), st.booleans(), st.booleans()),
)
def test_property_rsync_sync(
    src: str | SafePath,
    dest: str | SafePath,
    excludes: list[str],
    flags: tuple[bool, bool, bool],
) -> None:
    archive, delete, dry_run = flags
    cmd = attempt(
        lambda: rsync.sync(
            src, dest, archive=archive, delete=delete, dry_run=dry_run, excludes=excludes
        ),
        src, dest, *excludes,
    )  # fmt: skip
    if cmd is not None:
        operands = [local(_text(src)), local(_text(dest))]
        assert_no_smuggling(cmd, operands)
        for operand in operands:  # never host:path
            assert operand.startswith("/") or ":" not in operand.split("/", 1)[0]


@PROPERTY
@given(
    archive=path_arg,
    paths=st.lists(path_arg, max_size=3),
    cwd=st.none() | path_arg,
    dest=path_arg,
    gzip=st.booleans(),
)
def test_property_tar(
    archive: str | SafePath,
    paths: list[str | SafePath],
    cwd: str | SafePath | None,
    dest: str | SafePath,
    gzip: bool,
) -> None:
    created = attempt(
        lambda: tar.create(archive, paths, gzip=gzip, cwd=cwd), archive, cwd, paths, *paths
    )
    if created is not None:
        assert_no_smuggling(created, [_text(p) for p in paths])
    for cmd in (
        attempt(lambda: tar.extract(archive, dest), archive, dest),
        attempt(lambda: tar.list(archive), archive),
    ):
        if cmd is not None:
            assert_no_smuggling(cmd)
            (file_option,) = [a for a in cmd.argv if a.startswith("--file=")]
            name = file_option.removeprefix("--file=")
            assert name.startswith("/") or ":" not in name.split("/", 1)[0]


# --------------------------------------------------------------------------
# End to end, on asyncio and trio

GIT_CONTEXT = ExecutionContext(
    env={
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_AUTHOR_NAME": "cuprum",
        "GIT_AUTHOR_EMAIL": "cuprum@example.invalid",
        "GIT_COMMITTER_NAME": "cuprum",
        "GIT_COMMITTER_EMAIL": "cuprum@example.invalid",
    }
)


@pytest.mark.skipif(shutil.which("tar") is None, reason="tar is not installed")
async def test_tar_round_trip(tmp_path: Path, anyio_backend: str) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "-dash").write_text("dash\n")
    (src / "a:b").write_text("colon\n")
    (src / "plain").write_text("plain\n")
    members = [SafePath("./-dash"), "a:b", SafePath("plain")]

    # A relative archive name with a colon stays local (no rmt host "x").
    create = tar.create("x:y.tgz", members, gzip=True, cwd=src)
    await create.with_context(cwd=tmp_path).run(check=True)
    assert (tmp_path / "x:y.tgz").is_file()

    listing = await tar.list("x:y.tgz").with_context(cwd=tmp_path).run(check=True)
    assert listing.stdout is not None
    assert listing.stdout.splitlines() == ["./-dash", "a:b", "plain"]

    dest = tmp_path / "dest"
    dest.mkdir()
    await tar.extract(tmp_path / "x:y.tgz", SafePath("dest", base=tmp_path)).run(check=True)
    assert {p.name: p.read_text() for p in dest.iterdir()} == {
        "-dash": "dash\n",
        "a:b": "colon\n",
        "plain": "plain\n",
    }


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
async def test_git_init_commit_rev_parse_log_clone_checkout(
    tmp_path: Path, anyio_backend: str
) -> None:
    repo = SafePath("-repo", allow_dash=True, base=tmp_path)
    await git.init(repo, initial_branch="main").run(check=True, context=GIT_CONTEXT)
    commit = sh.make(GIT)("commit", "--allow-empty", "--message=first", "--quiet")
    await commit.run(check=True, context=GIT_CONTEXT.merged(ExecutionContext(cwd=repo)))
    branch = sh.make(GIT)("branch", "feature/x")
    await branch.run(check=True, context=GIT_CONTEXT.merged(ExecutionContext(cwd=repo)))

    head = await git.rev_parse("main", repo=repo).run(check=True, context=GIT_CONTEXT)
    assert head.stdout is not None
    oid = head.stdout.strip()
    assert re.fullmatch(r"[0-9a-f]{40,64}", oid)

    log = await git.log("main", max_count=1, format="%H %s", repo=repo).run(
        check=True, context=GIT_CONTEXT
    )
    assert log.stdout == f"{oid} first\n"

    await git.checkout(GitRef("feature/x"), repo=repo).run(check=True, context=GIT_CONTEXT)
    clone = SafePath("clone:copy", base=tmp_path)
    await git.clone(repo, clone, branch="feature/x", depth=1).run(check=True, context=GIT_CONTEXT)
    cloned = await git.rev_parse("HEAD", repo=clone).run(check=True, context=GIT_CONTEXT)
    assert cloned.stdout is not None
    assert cloned.stdout.strip() == oid

    missing = await git.rev_parse("no-such-branch", repo=repo).run(context=GIT_CONTEXT)
    assert not missing.ok


@pytest.mark.skipif(shutil.which("rsync") is None, reason="rsync is not installed")
async def test_rsync_sync(tmp_path: Path, anyio_backend: str) -> None:
    src = tmp_path / "a:src"
    (src / "keep").mkdir(parents=True)
    (src / "keep" / "file").write_text("kept\n")
    (src / "-dash").write_text("dash\n")
    (src / "skip.o").write_text("object\n")
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "stale").write_text("stale\n")
    here = ExecutionContext(cwd=tmp_path)

    dry = await rsync.sync("a:src/", "dest", delete=True, dry_run=True).run(
        check=True, context=here
    )
    assert dry.ok
    assert (dest / "stale").exists()

    cmd = rsync.sync("a:src/", "dest", delete=True, excludes=["*.o"])
    await cmd.run(check=True, context=here)
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*")) == [
        "-dash",
        "keep",
        "keep/file",
    ]
