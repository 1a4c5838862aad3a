"""Every Python example of the README and of the pages in docs/ runs as written.

Examples that need an sshd are fenced as `python remote`; test_remote_sessions.py
runs those against the suite's own sshd. Pytest modules are fenced as
`python pytest`; test_testing_plugin.py runs those under pytest. Code fenced
as `py` is not run: other libraries' code, shown for comparison
(docs/migrating.md).
"""

from __future__ import annotations

import pkgutil
import re
from pathlib import Path

import pytest

import cuprum
import cuprum.adapters
from tests.helpers import DOC_PAGES, ROOT, doc_examples, run_example


@pytest.mark.parametrize("code", doc_examples(DOC_PAGES))
def test_example_runs(code: str, tmp_path: Path) -> None:
    run_example(code, tmp_path)


API = ROOT / "docs" / "api"
PUBLIC_MODULES = {
    "cuprum.streams": "streams.md",
    "cuprum.builders": "builders.md",
    "cuprum.remote": "remote.md",
    "cuprum.adapters": "adapters.md",
    "cuprum.testing": "testing.md",
    "cuprum.unsafe": "unsafe.md",
    **{
        f"cuprum.adapters.{module.name}": "adapters.md"
        for module in pkgutil.iter_modules(cuprum.adapters.__path__)
        if not module.name.startswith("_")
    },
}


def test_the_api_reference_documents_every_public_name() -> None:
    page = (API / "cuprum.md").read_text()
    constants = dict(re.findall(r"`([A-Z0-9_]+)` \| `([^`]+)`", page))
    for name in cuprum.__all__:
        value = getattr(cuprum, name)
        if name.isupper() and name != "DEFAULT_CATALOGUE":
            assert constants.get(name) == value, f"{name} missing from the constants table"
        else:
            assert re.search(rf"^::: cuprum\.{name}$", page, re.MULTILINE), name
    for module, file in PUBLIC_MODULES.items():
        text = (API / file).read_text()
        assert re.search(rf"^::: {re.escape(module)}$", text, re.MULTILINE), module
