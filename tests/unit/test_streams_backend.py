"""Choosing the stream backend: `cuprum.streams`."""

from __future__ import annotations

from enum import StrEnum
from types import ModuleType

import pytest

import cuprum
import cuprum._backend
import cuprum._native
from cuprum import streams
from cuprum.streams import (
    StreamBackend,
    StreamBackendUnavailable,
    clear_backend_cache,
    get_stream_backend,
)

ENV_VAR = "CUPRUM_STREAM_BACKEND"


def _fake_extension(monkeypatch: pytest.MonkeyPatch, present: bool) -> None:
    module = ModuleType("cuprum._streams_rs") if present else None
    monkeypatch.setattr(cuprum._native, "load_extension", lambda: module)
    monkeypatch.setattr(cuprum._backend, "load_extension", lambda: module)
    clear_backend_cache()


def test_stream_backend_values() -> None:
    assert issubclass(StreamBackend, StrEnum)
    assert {member.value for member in StreamBackend} == {"rust", "python"}
    assert StreamBackend("rust") is StreamBackend.RUST
    assert StreamBackend.PYTHON == "python"


def test_streams_module_exports() -> None:
    assert set(streams.__all__) == {
        "StreamBackend",
        "StreamBackendUnavailable",
        "clear_backend_cache",
        "get_stream_backend",
    }
    assert streams.StreamBackendUnavailable is cuprum.StreamBackendUnavailable


@pytest.mark.parametrize("value", ["python", "PYTHON", " Python ", "\tpython\n"])
def test_python_is_case_and_whitespace_insensitive(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv(ENV_VAR, value)
    assert get_stream_backend() is StreamBackend.PYTHON


@pytest.mark.parametrize("value", ["rust", "RUST", "  Rust  "])
def test_rust_when_extension_present(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    _fake_extension(monkeypatch, present=True)
    monkeypatch.setenv(ENV_VAR, value)
    assert get_stream_backend() is StreamBackend.RUST


@pytest.mark.parametrize("value", ["auto", "AUTO", " auto ", ""])
def test_auto_picks_rust_when_extension_present(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    _fake_extension(monkeypatch, present=True)
    monkeypatch.setenv(ENV_VAR, value)
    assert get_stream_backend() is StreamBackend.RUST


@pytest.mark.parametrize("value", ["auto", "Auto ", ""])
def test_auto_falls_back_to_python_without_extension(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    _fake_extension(monkeypatch, present=False)
    monkeypatch.setenv(ENV_VAR, value)
    assert get_stream_backend() is StreamBackend.PYTHON


def test_unset_variable_means_auto(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    _fake_extension(monkeypatch, present=False)
    assert get_stream_backend() is StreamBackend.PYTHON
    _fake_extension(monkeypatch, present=True)
    assert get_stream_backend() is StreamBackend.RUST


def test_auto_matches_real_extension_availability(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, "auto")
    expected = (
        StreamBackend.RUST if cuprum._native.load_extension() is not None else StreamBackend.PYTHON
    )
    assert get_stream_backend() is expected


@pytest.mark.parametrize("value", ["rust", " RUST "])
def test_rust_requested_but_unavailable_raises(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    _fake_extension(monkeypatch, present=False)
    monkeypatch.setenv(ENV_VAR, value)
    with pytest.raises(StreamBackendUnavailable) as info:
        get_stream_backend()
    message = str(info.value)
    assert ENV_VAR in message
    assert "build" in message  # says how to get the extension
    assert "maturin" in message or "make develop" in message


def test_rust_unavailable_is_a_runtime_and_cuprum_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _fake_extension(monkeypatch, present=False)
    monkeypatch.setenv(ENV_VAR, "rust")
    with pytest.raises(RuntimeError):
        get_stream_backend()
    with pytest.raises(cuprum.CuprumError):
        get_stream_backend()


@pytest.mark.parametrize("value", ["fast", "rusty", "py", "1", "rust python"])
def test_invalid_value_raises_value_error_naming_variable_value_and_choices(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv(ENV_VAR, value)
    with pytest.raises(ValueError) as info:
        get_stream_backend()
    message = str(info.value)
    assert ENV_VAR in message
    assert repr(value) in message or value in message
    for choice in ("auto", "rust", "python"):
        assert choice in message


def test_invalid_value_is_not_stream_backend_unavailable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ENV_VAR, "bogus")
    with pytest.raises(ValueError) as info:
        get_stream_backend()
    assert not isinstance(info.value, StreamBackendUnavailable)


def test_resolution_is_cached_until_cleared(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def counting_loader() -> ModuleType:
        calls.append(1)
        return ModuleType("cuprum._streams_rs")

    monkeypatch.setattr(cuprum._backend, "load_extension", counting_loader)
    monkeypatch.setenv(ENV_VAR, "auto")
    clear_backend_cache()
    assert get_stream_backend() is StreamBackend.RUST
    assert get_stream_backend() is StreamBackend.RUST
    assert len(calls) == 1

    # A changed extension state is only seen after clearing the cache.
    monkeypatch.setattr(cuprum._backend, "load_extension", lambda: None)
    assert get_stream_backend() is StreamBackend.RUST
    clear_backend_cache()
    assert get_stream_backend() is StreamBackend.PYTHON


def test_changing_the_variable_takes_effect(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_extension(monkeypatch, present=True)
    monkeypatch.setenv(ENV_VAR, "python")
    assert get_stream_backend() is StreamBackend.PYTHON
    monkeypatch.setenv(ENV_VAR, "rust")
    clear_backend_cache()
    assert get_stream_backend() is StreamBackend.RUST


def test_clear_backend_cache_returns_none() -> None:
    assert clear_backend_cache() is None


def test_python_backend_runs_a_command_without_extension(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _fake_extension(monkeypatch, present=False)
    monkeypatch.setenv(ENV_VAR, "python")
    result = cuprum.sh.make(cuprum.CAT)().run_sync(stdin=b"via python\n")
    assert result.stdout == "via python\n"


def test_run_with_rust_requested_but_unavailable_raises_before_spawning(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.helpers import child_pids

    _fake_extension(monkeypatch, present=False)
    monkeypatch.setenv(ENV_VAR, "rust")
    before = child_pids()
    with pytest.raises(StreamBackendUnavailable):
        cuprum.sh.make(cuprum.ECHO)("x").run_sync()
    assert child_pids() == before
