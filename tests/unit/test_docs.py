"""Every Python example of the README and the user's guide runs as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", ROOT / "docs" / "users-guide.md"]
FENCE = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def _examples() -> list[pytest.ParameterSet]:
    params: list[pytest.ParameterSet] = []
    for doc in DOCS:
        for index, match in enumerate(FENCE.finditer(doc.read_text())):
            line = doc.read_text()[: match.start()].count("\n") + 1
            params.append(pytest.param(match.group(1), id=f"{doc.name}:{line}:{index}"))
    return params


@pytest.mark.parametrize("code", _examples())
def test_example_runs(code: str, tmp_path: Path) -> None:
    script = tmp_path / "example.py"
    script.write_text(code)
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
