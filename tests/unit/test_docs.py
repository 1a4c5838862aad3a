"""Every Python example of the README and the user's guide runs as written.

Examples that need an sshd are fenced as `python remote`; test_remote_sessions.py
runs those against the suite's own sshd.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import ROOT, doc_examples, run_example


@pytest.mark.parametrize(
    "code", doc_examples([ROOT / "README.md", ROOT / "docs" / "users-guide.md"])
)
def test_example_runs(code: str, tmp_path: Path) -> None:
    run_example(code, tmp_path)
