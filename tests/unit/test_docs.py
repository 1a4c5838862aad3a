"""Every Python example of the README and of the pages in docs/ runs as written.

Examples that need an sshd are fenced as `python remote`; test_remote_sessions.py
runs those against the suite's own sshd. Pytest modules are fenced as
`python pytest`; test_testing_plugin.py runs those under pytest.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import DOC_PAGES, doc_examples, run_example


@pytest.mark.parametrize("code", doc_examples(DOC_PAGES))
def test_example_runs(code: str, tmp_path: Path) -> None:
    run_example(code, tmp_path)
