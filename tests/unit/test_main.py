"""``python -m cuprum info``: what this installation can do; a failing status when misconfigured."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def info(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cuprum", "info"],
        capture_output=True, text=True, check=False, timeout=60,
        env={**os.environ, **env},
    )  # fmt: skip


@pytest.mark.parametrize("value", ["python", "auto"])
def test_info_shows_the_variable_and_the_resolved_backend(value: str) -> None:
    done = info(CUPRUM_STREAM_BACKEND=value)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith("CUPRUM_STREAM_BACKEND") and line.endswith(value) for line in lines)
    backend = next(line for line in lines if line.startswith("stream backend"))
    assert backend.split()[-1] in {"python", "rust"}


def test_info_fails_on_an_invalid_backend_and_says_why() -> None:
    done = info(CUPRUM_STREAM_BACKEND="turbo")
    assert done.returncode == 2
    assert "error:" in done.stdout
    assert "CUPRUM_STREAM_BACKEND='turbo'" in done.stderr


@pytest.mark.parametrize(("value", "says"), [("", "in-process"), ("ssh", "an ssh client")])
def test_info_says_how_remote_sessions_are_opened(value: str, says: str) -> None:
    done = info(CUPRUM_REMOTE_CLIENT=value)
    assert done.returncode == 0, done.stderr
    row = next(line for line in done.stdout.splitlines() if line.startswith("remote sessions"))
    assert says in row


def test_info_fails_on_an_invalid_remote_client_and_says_why() -> None:
    done = info(CUPRUM_REMOTE_CLIENT="telnet")
    assert done.returncode == 2
    assert "CUPRUM_REMOTE_CLIENT='telnet'" in done.stderr
