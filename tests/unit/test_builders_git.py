"""`cuprum.builders.git`: add, commit, status, diff, branch, tag, fetch, push.

Shared strategies and checks live in test_builders.py (SafePath, GitRef
and the first git builders).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from cuprum import SafeCmd
from cuprum.builders import GitRef, SafePath, git
from tests.unit.test_builders import (
    GIT_CONTEXT,
    PROPERTY,
    assert_no_smuggling,
    attempt,
    hostile_text,
    local,
    path_arg,
    ref_like,
    ref_text,
)

# --------------------------------------------------------------------------
# Argv shape


def test_git_add_commit_status_diff_argv_shapes(tmp_path: Path) -> None:
    assert git.add(["a", SafePath("b:c")]).argv == (
        "git", "--literal-pathspecs", "add", "--", "a", "./b:c",
    )  # fmt: skip
    assert git.add(all=True).argv == ("git", "add", "--all", "--")
    assert git.add(["src"], update=True).argv == (
        "git", "--literal-pathspecs", "add", "--update", "--", "src",
    )  # fmt: skip
    assert git.commit("-m looks like an option").argv == (
        "git", "commit", "--cleanup=verbatim", "--message=-m looks like an option", "--",
    )  # fmt: skip
    assert git.commit("x", all=True, allow_empty=True).argv == (
        "git", "commit", "--all", "--allow-empty", "--cleanup=verbatim", "--message=x", "--",
    )  # fmt: skip
    assert git.status().argv == ("git", "status", "--")
    assert git.status(porcelain=True, paths=["docs"]).argv == (
        "git", "--literal-pathspecs", "status", "--porcelain", "--", "docs",
    )  # fmt: skip
    assert git.diff().argv == ("git", "diff", "--")
    assert git.diff(cached=True, stat=True).argv == ("git", "diff", "--cached", "--stat", "--")
    assert git.diff("main", GitRef("dev"), paths=["x"]).argv == (
        "git", "--literal-pathspecs", "diff", "main", "dev", "--", "x",
    )  # fmt: skip
    cmd = git.commit("x", repo=tmp_path)
    assert cmd.context is not None
    assert cmd.context.cwd == str(tmp_path)


def test_git_branch_tag_fetch_push_argv_shapes() -> None:
    assert git.branch().argv == ("git", "branch", "--list")
    assert git.branch("feature/x").argv == ("git", "branch", "feature/x")
    assert git.branch("f", "main", force=True).argv == ("git", "branch", "--force", "f", "main")
    assert git.branch(GitRef("f"), delete=True, force=True).argv == (
        "git", "branch", "--delete", "--force", "f",
    )  # fmt: skip
    assert git.tag().argv == ("git", "tag", "--list")
    assert git.tag("v1.0", "main").argv == ("git", "tag", "v1.0", "main")
    assert git.tag("v1.0", message="-a release", force=True).argv == (
        "git", "tag", "--annotate", "--cleanup=verbatim", "--message=-a release", "--force",
        "v1.0",
    )  # fmt: skip
    assert git.tag("v1.0", delete=True).argv == ("git", "tag", "--delete", "v1.0")
    assert git.fetch().argv == ("git", "fetch", "--")
    assert git.fetch("origin", ["+main:refs/remotes/origin/main"], depth=1, prune=True).argv == (
        "git", "fetch", "--prune", "--depth=1", "--", "origin", "+main:refs/remotes/origin/main",
    )  # fmt: skip
    assert git.push().argv == ("git", "push", "--")
    assert git.push(
        "git@host:x.git", ["main", ":old", GitRef("v1")], force=True, set_upstream=True, tags=True
    ).argv == (
        "git", "push", "--force", "--set-upstream", "--tags", "--",
        "git@host:x.git", "main", ":old", "v1",
    )  # fmt: skip
    assert git.push(SafePath("a:b"), ["main"]).argv[-2:] == ("./a:b", "main")


def test_paths_after_double_dash_may_start_with_dash() -> None:
    assert git.log(paths=["-rf"]).argv == ("git", "--literal-pathspecs", "log", "--", "-rf")
    assert git.add(["-rf", "--all", "-"]).argv[-4:] == ("--", "-rf", "--all", "-")
    assert git.status(paths=["-x"]).argv[-2:] == ("--", "-x")
    assert git.diff(paths=["--cached"]).argv[-2:] == ("--", "--cached")
    assert git.init("-repo").argv == ("git", "init", "--", "-repo")
    assert git.clone("https://example.com/x.git", "-dest").argv[-2:] == (
        "https://example.com/x.git", "-dest",
    )  # fmt: skip
    # Where a path is not after "--", the strict rule stays.
    with pytest.raises(ValueError, match="'-x' starts with '-'"):
        git.status(repo="-x")


# --------------------------------------------------------------------------
# Refusals


@pytest.mark.parametrize(
    ("build", "fragment"),
    [
        (git.add, "nothing to add"),
        (lambda: git.add(all=True, update=True), "exclude each other"),
        (lambda: git.add([""]), "paths[0]: SafePath: the path is empty"),
        (lambda: git.commit(""), "message is empty"),
        (lambda: git.commit("a\0b"), "'a\\x00b'"),
        (lambda: git.status(paths=["ok", "a\0"]), "paths[1]: SafePath: path 'a\\x00'"),
        (lambda: git.diff("-p"), "base: GitRef: invalid reference name '-p'"),
        (lambda: git.diff(target="main"), "target 'main' needs a base"),
        (lambda: git.diff("a", "--output=x"), "target: GitRef: invalid reference name"),
        (lambda: git.branch("-D"), "name: GitRef: invalid reference name '-D'"),
        (lambda: git.branch("f", "--orphan"), "start: GitRef: invalid reference name '--orphan'"),
        (lambda: git.branch(start="main"), "without a name"),
        (lambda: git.branch(delete=True), "without a name"),
        (lambda: git.branch("f", "main", delete=True), "delete takes no start ('main')"),
        (lambda: git.tag("-d"), "name: GitRef: invalid reference name '-d'"),
        (lambda: git.tag("v1", "HEAD~1"), "target: GitRef: invalid reference name 'HEAD~1'"),
        (lambda: git.tag(message="m"), "a message needs a tag to create"),
        (lambda: git.tag("v1", message="m", delete=True), "a message needs a tag to create"),
        (lambda: git.tag("v1", message=""), "message is empty"),
        (lambda: git.fetch("--upload-pack=id"), "remote '--upload-pack=id' starts with '-'"),
        (lambda: git.fetch("ext::sh -c id"), "remote 'ext::sh -c id' uses a transport"),
        (lambda: git.fetch(""), "remote is empty"),
        (lambda: git.fetch(refspecs=["main"]), "refspecs ['main'] need a remote"),
        (lambda: git.fetch("o", depth=0), "depth must be at least 1"),
        (lambda: git.fetch("o", ["-x"]), "refspecs[0]: invalid refspec '-x'"),
        (lambda: git.push("o", ["ok", "a:-b"]), "refspecs[1]: invalid refspec 'a:-b'"),
        (lambda: git.push("o", [":"]), "invalid refspec ':': it names no reference"),
        (lambda: git.push("o", ["+"]), "invalid refspec '+'"),
        (lambda: git.push("o", ["refs/heads/*:x"]), "'refs/heads/*:x'"),
        (lambda: git.push("o", ["a:b:c"]), "'a:b:c'"),
        (lambda: git.push("fd::3"), "remote 'fd::3' uses a transport"),
    ],
)
def test_git_builders_reject_values_with_a_message_naming_them(
    build: Callable[[], SafeCmd], fragment: str
) -> None:
    with pytest.raises(ValueError) as info:
        build()
    assert fragment in str(info.value)


@pytest.mark.parametrize(
    "build",
    [
        lambda: git.add("-rf"),  # a str is one path, not an iterable of them
        lambda: git.log(paths="src"),
        lambda: git.status(paths=b"x"),  # type: ignore[arg-type]
        lambda: git.commit(3),  # type: ignore[arg-type]
        lambda: git.commit(b"msg"),  # type: ignore[arg-type]
        lambda: git.tag("v1", message=["m"]),  # type: ignore[arg-type]
        lambda: git.branch(3),  # type: ignore[arg-type]
        lambda: git.fetch("o", "main"),
        lambda: git.push("o", [3]),  # type: ignore[list-item]
        lambda: git.fetch("o", depth=True),
    ],
)
def test_git_builders_reject_wrong_types(build: Callable[[], SafeCmd]) -> None:
    with pytest.raises(TypeError):
        build()


# --------------------------------------------------------------------------
# Properties: nothing a user passes is read as an option

refspec_text = st.one_of(
    ref_text,
    st.tuples(st.sampled_from(["", "+"]), ref_text, st.sampled_from([":", ""]), ref_text).map(
        "".join
    ),
)


def _text(value: object) -> str:
    return value.path if isinstance(value, SafePath) else str(value)


@PROPERTY
@given(paths=st.lists(path_arg, max_size=3), command=st.sampled_from(["add", "status", "diff"]))
@example(paths=["-rf", "--all"], command="add")
def test_property_git_path_commands(paths: list[str | SafePath], command: str) -> None:
    builders: dict[str, Callable[[], SafeCmd]] = {
        "add": lambda: git.add(paths, all=True),
        "status": lambda: git.status(porcelain=True, paths=paths),
        "diff": lambda: git.diff(cached=True, paths=paths),
    }
    cmd = attempt(builders[command], *paths)
    if cmd is None:
        assert any(not _text(p) or "\0" in _text(p) for p in paths)
        return
    assert_no_smuggling(cmd, [local(_text(p)) for p in paths])


@PROPERTY
@given(message=hostile_text)
@example(message="-m --amend")
@example(message="# not a comment\n")
def test_property_git_commit_message_is_one_entry(message: str) -> None:
    cmd = attempt(lambda: git.commit(message), message)
    if cmd is None:
        assert not message or "\0" in message
        return
    assert_no_smuggling(cmd)
    assert cmd.argv == ("git", "commit", "--cleanup=verbatim", f"--message={message}", "--")


@PROPERTY
@given(
    name=st.none() | ref_text,
    second=st.none() | ref_text,
    message=st.none() | hostile_text,
    delete=st.booleans(),
)
def test_property_git_branch_and_tag(
    name: str | None, second: str | None, message: str | None, delete: bool
) -> None:
    # Listing takes nothing; deleting takes no second ref; a message needs a tag to make.
    fits = (second is None and not delete) if name is None else not (delete and second is not None)
    for build, form_ok in (
        (lambda: git.branch(name, second, delete=delete), fits),
        (
            lambda: git.tag(name, second, message=message, delete=delete),
            fits and (message is None or (name is not None and not delete)),
        ),
    ):
        if not form_ok:
            with pytest.raises(ValueError):
                build()
            continue
        cmd = attempt(build, name, second, message)
        if cmd is None:
            continue
        assert_no_smuggling(cmd)
        refs = [v for v in (name, second) if v is not None]
        assert list(cmd.argv[-len(refs) :] if refs else []) == refs
        assert all(not v.startswith("-") for v in refs)


@PROPERTY
@given(remote=st.none() | path_arg | ref_text, refspecs=st.lists(refspec_text, max_size=3))
@example(remote="origin", refspecs=["+main:refs/x", ":gone", "-x"])
def test_property_git_fetch_and_push(remote: str | SafePath | None, refspecs: list[str]) -> None:
    for build in (
        lambda: git.fetch(remote, refspecs),
        lambda: git.push(remote, refspecs, force=True),
    ):
        cmd = attempt(build, remote, refspecs, *refspecs)
        if cmd is None:
            continue
        after = list(cmd.argv[cmd.argv.index("--") + 1 :])
        assert_no_smuggling(cmd, after)
        if remote is None:
            assert after == []
            continue
        assert after[1:] == refspecs
        if not isinstance(remote, SafePath):
            assert after[0] == remote
            assert not remote.startswith("-")
        for spec in refspecs:
            source, _, dest = spec.removeprefix("+").partition(":")
            for side in (source, dest):
                if side:
                    GitRef(side)  # each side is a valid reference name


@given(spec=st.one_of(refspec_text, ref_like))
def test_property_refspec_sides_agree_with_gitref(spec: str) -> None:
    cmd = attempt(lambda: git.push("o", [spec]), spec)
    body = spec.removeprefix("+")
    sides = body.split(":") if ":" in body else [body]
    valid = (
        len(sides) <= 2
        and any(sides)
        and all(
            attempt(lambda s=s: GitRef(s), s) is not None for s in sides if s or len(sides) == 1
        )
    )
    assert (cmd is not None) == valid, spec


# --------------------------------------------------------------------------
# End to end, on asyncio and trio


async def _out(cmd: SafeCmd) -> str:
    result = await cmd.run(check=True, context=GIT_CONTEXT)
    assert result.stdout is not None
    return result.stdout


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
async def test_git_round_trip_with_option_looking_values(
    tmp_path: Path, anyio_backend: str
) -> None:
    repo = SafePath("repo", base=tmp_path)
    await _out(git.init(repo, initial_branch="main"))
    for name in ("-rf", "--all", "a:b"):
        (tmp_path / "repo" / name).write_text(f"{name}\n")

    await _out(git.add(["-rf", "--all"], repo=repo))
    status = await _out(git.status(porcelain=True, repo=repo))
    assert sorted(status.splitlines()) == ["?? a:b", "A  --all", "A  -rf"]
    await _out(git.add(["a:b"], repo=repo))

    message = "-m --amend is text\n\n# not a comment\n"
    await _out(git.commit(message, repo=repo))
    assert await _out(git.log("main", format="%B", repo=repo)) == message + "\n"
    assert await _out(git.status(porcelain=True, repo=repo)) == ""

    (tmp_path / "repo" / "-rf").write_text("changed\n")
    assert await _out(git.diff(stat=True, paths=["--all"], repo=repo)) == ""
    diff = await _out(git.diff(paths=["-rf"], repo=repo))
    assert "\n--rf\n+changed\n" in diff
    await _out(git.commit("second", all=True, repo=repo))

    await _out(git.branch("feature/x", "main", repo=repo))
    assert await _out(git.branch(repo=repo)) == "  feature/x\n* main\n"
    await _out(git.tag("v1", message="-a annotated", repo=repo))
    await _out(git.tag("light", "feature/x", repo=repo))
    assert await _out(git.tag(repo=repo)) == "light\nv1\n"
    assert (
        await _out(git.log("v1", max_count=2, format="%s", repo=repo))
        == "second\n-m --amend is text\n"
    )
    assert await _out(git.diff("v1", "main", repo=repo)) == ""

    backup = SafePath("backup.git", base=tmp_path)
    await _out(git.init(backup, bare=True))
    await _out(git.push(backup, ["main", "feature/x", "+v1:refs/tags/v1"], repo=repo))
    head = (await _out(git.rev_parse("main", repo=repo))).strip()
    assert (await _out(git.rev_parse("feature/x", repo=backup))).strip() == head
    await _out(git.push(backup, [":feature/x"], repo=repo))
    gone = await git.rev_parse("feature/x", repo=backup).run(context=GIT_CONTEXT)
    assert not gone.ok
    await _out(git.fetch(backup, ["+main:refs/remotes/backup/main"], repo=repo))
    fetched = await _out(git.rev_parse("refs/remotes/backup/main", repo=repo))
    assert re.fullmatch(r"[0-9a-f]{40,64}\n", fetched)
    assert fetched.strip() == head
    await _out(git.branch("feature/x", delete=True, repo=repo))
    assert await _out(git.branch(repo=repo)) == "* main\n"
