"""Shared fixtures: the event loop x stream backend matrix and leak checks.

Helpers that tests import by name live in ``tests/helpers.py``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cuprum.streams import clear_backend_cache
from tests.helpers import IN_CI, LOOPS, RUST_AVAILABLE, LeakChecker

if IN_CI and not RUST_AVAILABLE:
    # A skipped Rust matrix in CI would hide every rust-backend failure.
    raise pytest.UsageError(
        "CI=true but the Rust extension cuprum._streams_rs is not built: "
        "the rust-backend tests would be skipped. Run `make develop` first."
    )


@pytest.fixture(params=LOOPS)
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """The event loop every async test runs on (asyncio and trio)."""
    return request.param


# The stream backend matrix is cuprum's own pytest plugin's
# ``cuprum_stream_backend`` fixture (cuprum.testing), as users get it.


@pytest.fixture(autouse=True)
def _clear_backend_cache() -> Iterator[None]:
    clear_backend_cache()
    yield
    clear_backend_cache()


@pytest.fixture
def leak_check() -> Iterator[LeakChecker]:
    """Fail the test if it leaves a descriptor or child process behind."""
    checker = LeakChecker()
    yield checker
    checker.assert_clean()


@pytest.fixture
def no_registration_leaks() -> Iterator[None]:
    """Fail the test if it leaves a hook or listener on the root scope.

    The event, hook and scope test modules apply it to every test with
    ``pytestmark = pytest.mark.usefixtures("no_registration_leaks")``.
    """
    from cuprum._context import ROOT_SCOPE

    yield
    leftovers = [list(r) for r in (ROOT_SCOPE.before, ROOT_SCOPE.after, ROOT_SCOPE.observers)]
    for registry in (ROOT_SCOPE.before, ROOT_SCOPE.after, ROOT_SCOPE.observers):
        registry.clear()
    assert leftovers == [[], [], []], "a test left a hook or listener registered"
