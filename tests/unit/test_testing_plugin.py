"""The pytest plugin works from the installed package: no conftest, no ``-p``."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.helpers import DOC_PAGES, RUST_AVAILABLE, doc_examples

USER_TESTS = """
import pytest

from cuprum import GIT, sh
from cuprum.streams import get_stream_backend
from cuprum.testing import FakeProcesses

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request):
    return request.param


async def current_branch() -> str:
    result = await sh.make(GIT)("rev-parse", "--abbrev-ref", "HEAD").run(check=True)
    return result.stdout.strip()


async def test_branch(cuprum_fake: FakeProcesses, cuprum_stream_backend: str) -> None:
    cuprum_fake.register(["git", "rev-parse", "--abbrev-ref", "HEAD"], stdout="main\\n")
    assert await current_branch() == "main"
    assert str(get_stream_backend()) == cuprum_stream_backend
    assert cuprum_fake.calls[0].argv[:2] == ("git", "rev-parse")


def test_sync_code(cuprum_fake: FakeProcesses) -> None:
    cuprum_fake.register(["git", ...], stdout="x")
    assert sh.make(GIT)("log").run_sync().stdout == "x"


async def test_nothing_is_faked_without_the_fixture() -> None:
    assert (await sh.make(GIT)("--version").run()).stdout.startswith("git version")
"""


def test_plugin_fixtures_reach_a_users_tests(tmp_path: Path) -> None:
    (tmp_path / "test_app.py").write_text(textwrap.dedent(USER_TESTS))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", "test_app.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    plugins = next(line for line in done.stdout.splitlines() if line.startswith("plugins:"))
    assert "cuprum" in plugins
    passed = [line for line in done.stdout.splitlines() if " PASSED" in line]
    ids = {line.split("::")[1].split(" ")[0] for line in passed}
    expected = {"test_branch[asyncio-python]", "test_branch[trio-python]"}
    if RUST_AVAILABLE:
        expected |= {"test_branch[asyncio-rust]", "test_branch[trio-rust]"}
    assert expected <= ids, done.stdout
    assert "test_sync_code" in ids


@pytest.mark.parametrize("code", doc_examples(DOC_PAGES, "python pytest"))
def test_the_guides_pytest_examples_pass(code: str, tmp_path: Path) -> None:
    (tmp_path / "test_example.py").write_text(code)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_example.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert " passed" in done.stdout
    assert "skipped" not in done.stdout or not RUST_AVAILABLE
