"""cuprum's pytest plugin, registered through the ``pytest11`` entry point.

Fixtures:

- ``cuprum_fake``: a `cuprum.testing.FakeProcesses` in force for the test.
- ``cuprum_stream_backend``: runs the test once per stream backend
  (``python``, ``rust``; ``rust`` is skipped, with the reason, when the
  extension is not installed), with ``CUPRUM_STREAM_BACKEND`` set.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .._backend import ENV_VAR, clear_backend_cache, extension_available
from ._fakes import FakeProcesses, fake_processes

__all__ = ["cuprum_fake", "cuprum_stream_backend"]


@pytest.fixture
def cuprum_fake() -> Iterator[FakeProcesses]:
    """Fake every command the test runs; register routes on the value."""
    with fake_processes() as fake:
        yield fake


@pytest.fixture(
    params=[
        pytest.param("python", id="python"),
        pytest.param(
            "rust",
            id="rust",
            marks=pytest.mark.skipif(
                not extension_available(),
                reason="the Rust extension cuprum._streams_rs is not installed",
            ),
        ),
    ]
)
def cuprum_stream_backend(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """The stream backend of this run of the test, set through CUPRUM_STREAM_BACKEND."""
    backend: str = request.param
    monkeypatch.setenv(ENV_VAR, backend)
    clear_backend_cache()
    yield backend
    clear_backend_cache()
