"""`cuprum.builders` rsync and tar: operands after ``--`` may start with ``-``.

Shared strategies and checks live in test_builders.py.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from cuprum import ExecutionContext, SafeCmd
from cuprum.builders import SafePath, rsync, tar
from tests.unit.test_builders import assert_no_smuggling

# --------------------------------------------------------------------------
# Argv shape


def test_rsync_sync_takes_dash_paths_after_the_marker() -> None:
    cmd = rsync.sync("-rf", "--delete/")
    assert cmd.argv == ("rsync", "--archive", "--", "-rf", "--delete/")
    assert_no_smuggling(cmd, ["-rf", "--delete/"])
    assert rsync.sync("-", "-e").argv[-3:] == ("--", "-", "-e")
    # The host:path rule still applies to a dash path with a colon.
    assert rsync.sync("-e:x", "-rf:y/z").argv[-3:] == ("--", "./-e:x", "./-rf:y/z")
    assert rsync.sync("/-e:x", "-rf/a:b").argv[-2:] == ("/-e:x", "-rf/a:b")
    # Exclude patterns are --exclude=<p>, never a separate entry.
    assert rsync.sync("a", "b", excludes=["-rf"]).argv == (
        "rsync", "--archive", "--exclude=-rf", "--", "a", "b",
    )  # fmt: skip


def test_tar_create_takes_dash_members_after_the_marker() -> None:
    cmd = tar.create("out.tar", ["-rf", "--to-command=sh", SafePath("-x", allow_dash=True)])
    assert cmd.argv == (
        "tar", "--create", "--file=out.tar", "--", "-rf", "--to-command=sh", "-x",
    )  # fmt: skip
    assert_no_smuggling(cmd, ["-rf", "--to-command=sh", "-x"])
    # Member names are not host:file to tar: kept as given.
    assert tar.create("o.tar", ["-a:b"], cwd="/srv").argv[-4:] == (
        "--file=o.tar", "--directory=/srv", "--", "-a:b",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("build", "fragment"),
    [
        # Values not after "--" still refuse a leading "-".
        (lambda: tar.create("-rf", ["x"]), "archive: SafePath: '-rf'"),
        (lambda: tar.create("o.tar", ["x"], cwd="-rf"), "cwd: SafePath: '-rf'"),
        (lambda: tar.extract("-rf", "d"), "archive: SafePath: '-rf'"),
        (lambda: tar.extract("a.tar", "-rf"), "dest: SafePath: '-rf'"),
        (lambda: tar.list("-rf"), "archive: SafePath: '-rf'"),
        # Operands after "--" keep every other rule.
        (lambda: rsync.sync("-rf\0", "d"), "src: SafePath: path '-rf\\x00'"),
        (lambda: rsync.sync("s", ""), "dest: SafePath: the path is empty"),
        (lambda: tar.create("o.tar", ["-rf", ""]), "paths[1]: SafePath: the path is empty"),
        (lambda: tar.create("o.tar", ["-rf\0"]), "paths[0]: SafePath: path '-rf\\x00'"),
    ],
)
def test_dash_outside_the_marker_and_other_rules_still_refused(
    build: Callable[[], SafeCmd], fragment: str
) -> None:
    with pytest.raises(ValueError) as info:
        build()
    assert fragment in str(info.value)


def test_dash_members_still_need_a_sequence() -> None:
    with pytest.raises(TypeError):
        tar.create("o.tar", "-rf")


# --------------------------------------------------------------------------
# End to end, on asyncio and trio


@pytest.mark.skipif(shutil.which("tar") is None, reason="tar is not installed")
async def test_tar_archives_a_file_named_dash_rf(tmp_path: Path, anyio_backend: str) -> None:
    (tmp_path / "-rf").write_text("not an option\n")
    (tmp_path / "keep").write_text("keep\n")
    here = ExecutionContext(cwd=tmp_path)

    await tar.create("out.tar", ["-rf"]).run(check=True, context=here)
    listing = await tar.list("out.tar").run(check=True, context=here)
    assert listing.stdout == "-rf\n"
    assert (tmp_path / "keep").read_text() == "keep\n"

    dest = tmp_path / "dest"
    dest.mkdir()
    await tar.extract(tmp_path / "out.tar", dest).run(check=True)
    assert {p.name: p.read_text() for p in dest.iterdir()} == {"-rf": "not an option\n"}


@pytest.mark.skipif(shutil.which("rsync") is None, reason="rsync is not installed")
async def test_rsync_copies_a_file_named_dash_dash_delete(
    tmp_path: Path, anyio_backend: str
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "--delete").write_text("not an option\n")
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "stale").write_text("stale\n")

    # Read as an option, "--delete" would leave one operand: a listing, no copy.
    await rsync.sync("--delete", f"{dest}/").run(check=True, context=ExecutionContext(cwd=src))
    # And a dash destination is a file name too.
    await rsync.sync("--delete", "-rf").run(check=True, context=ExecutionContext(cwd=dest))
    assert {p.name: p.read_text() for p in dest.iterdir()} == {
        "--delete": "not an option\n",
        "-rf": "not an option\n",
        "stale": "stale\n",
    }
