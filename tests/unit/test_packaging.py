"""The build: a pure-Python wheel without a Rust toolchain, an sdist that holds both paths.

The build backend (``build_backend/cuprum_build.py``) is driven directly, as
a frontend would, with hatchling from the dev tools; nothing is downloaded.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.helpers import ROOT

BACKEND = ROOT / "build_backend"


def no_cargo_path(tmp_path: Path) -> str:
    """PATH without any directory that holds cargo, and with this interpreter's bin."""
    kept = [d for d in os.environ["PATH"].split(os.pathsep) if not (Path(d) / "cargo").exists()]
    return os.pathsep.join([str(Path(sys.executable).parent), *kept, str(tmp_path)])


def hook(name: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    code = f"import cuprum_build as b; print(b.{name}(*{list(args)!r}))"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
        check=False, timeout=120, env={**env, "PYTHONPATH": str(BACKEND)},
    )  # fmt: skip


def clean_env(path: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CUPRUM_", "CARGO"))}
    return {**env, "PATH": path, "MATURIN_NO_INSTALL_RUST": "1", **extra}


def test_without_cargo_the_wheel_is_pure_python_and_runs_on_the_python_backend(
    tmp_path: Path,
) -> None:
    env = clean_env(no_cargo_path(tmp_path))
    assert hook("get_requires_for_build_wheel", env=env).stdout.strip() == "['hatchling>=1.21']"
    done = hook("build_wheel", str(tmp_path), env=env)
    assert done.returncode == 0, done.stderr
    assert "no Rust toolchain" in done.stderr
    wheel = tmp_path / done.stdout.split()[-1]
    assert wheel.name.endswith("-py3-none-any.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        archive.extractall(tmp_path / "site")
    assert "cuprum/py.typed" in names
    assert "cuprum/testing/_plugin.py" in names
    assert not [n for n in names if n.endswith((".so", ".pyd", ".pyi"))]
    assert any(n.endswith("entry_points.txt") for n in names)

    run = subprocess.run(
        [sys.executable, "-m", "cuprum", "info"], cwd=tmp_path, capture_output=True,
        text=True, check=False, timeout=60, env={**env, "PYTHONPATH": str(tmp_path / "site")},
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    rows = dict(line.split(None, 1) for line in run.stdout.splitlines() if "  " in line)
    assert rows["stream"].split()[-1] == "python"
    assert "a pure-Python wheel" in run.stdout


def test_with_cargo_the_wheel_is_built_by_maturin(tmp_path: Path) -> None:
    cargo = tmp_path / "cargo"
    cargo.write_text("#!/bin/sh\nexit 0\n")
    cargo.chmod(0o755)
    env = clean_env(no_cargo_path(tmp_path))
    assert hook("get_requires_for_build_wheel", env=env).stdout.strip() == "['maturin>=1.5,<2']"
    forced = clean_env(no_cargo_path(tmp_path), CUPRUM_BUILD_RUST="no")
    assert "hatchling" in hook("get_requires_for_build_wheel", env=forced).stdout


@pytest.mark.parametrize("value", ["sometimes", "rust"])
def test_an_invalid_build_choice_is_refused_by_name(tmp_path: Path, value: str) -> None:
    env = clean_env(no_cargo_path(tmp_path), CUPRUM_BUILD_RUST=value)
    done = hook("get_requires_for_build_wheel", env=env)
    assert done.returncode != 0
    assert f"CUPRUM_BUILD_RUST={value!r} is not valid" in done.stderr


def test_the_sdist_holds_the_crate_the_backend_and_the_docs(tmp_path: Path) -> None:
    done = hook("build_sdist", str(tmp_path), env=clean_env(os.environ["PATH"]))
    assert done.returncode == 0, done.stderr
    with tarfile.open(tmp_path / done.stdout.split()[-1]) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for needed in (
        "pyproject.toml", "Cargo.toml", "Cargo.lock", "crates/cuprum-streams/Cargo.toml",
        "crates/cuprum-streams/src/lib.rs", "build_backend/cuprum_build.py",
        "cuprum/_streams_rs.pyi", "docs/users-guide.md", "README.md", "CHANGELOG.md",
        "LICENSE", "PKG-INFO",
    ):  # fmt: skip
        assert needed in names, needed
    assert not [n for n in names if n.endswith(".so") or "__pycache__" in n]
