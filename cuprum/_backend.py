"""Choices made by the environment: ``CUPRUM_STREAM_BACKEND`` and ``CUPRUM_REMOTE_CLIENT``."""

from __future__ import annotations

import functools
import os
from enum import StrEnum

from ._errors import StreamBackendUnavailable
from ._native import load_extension

__all__ = [
    "ENV_VAR",
    "REMOTE_CLIENT_VAR",
    "StreamBackend",
    "clear_backend_cache",
    "extension_available",
    "get_stream_backend",
    "remote_client",
    "splice_available",
]

ENV_VAR = "CUPRUM_STREAM_BACKEND"
_CHOICES = ("auto", "rust", "python")
REMOTE_CLIENT_VAR = "CUPRUM_REMOTE_CLIENT"


def remote_client() -> str:
    """How remote sessions are opened: ``auto`` or ``ssh``.

    ``auto`` opens them in-process on the ControlMaster's socket where the
    master speaks its protocol (else an ``ssh`` client each); ``ssh`` always
    starts an ``ssh`` client per session.

    Raises
    ------
    ValueError
        ``CUPRUM_REMOTE_CLIENT`` holds something else; the message names it.
    """
    value = (os.environ.get(REMOTE_CLIENT_VAR) or "auto").strip().lower()
    if value not in {"auto", "ssh"}:
        raise ValueError(f"{REMOTE_CLIENT_VAR}={value!r} is not valid; use one of: auto, ssh")
    return value


class StreamBackend(StrEnum):
    """The engine that moves bytes between pipeline stages."""

    RUST = "rust"
    PYTHON = "python"


def extension_available() -> bool:
    """Say whether the Rust extension imports."""
    return load_extension() is not None


def splice_available() -> bool:
    """Say whether the extension can use splice() on this machine."""
    module = load_extension()
    return bool(module is not None and module.splice_available())


@functools.cache
def _resolve(raw: str | None) -> StreamBackend:
    value = (raw or "auto").strip().lower()
    match value:
        case "auto" | "":
            return StreamBackend.RUST if extension_available() else StreamBackend.PYTHON
        case "python":
            return StreamBackend.PYTHON
        case "rust":
            if not extension_available():
                raise StreamBackendUnavailable(
                    f"{ENV_VAR}=rust but the Rust extension cuprum._streams_rs is not "
                    "installed; build it with `make develop` (maturin develop --release) "
                    "or install cuprum from a wheel, or set "
                    f"{ENV_VAR}=auto to fall back to Python"
                )
            return StreamBackend.RUST
        case _:
            raise ValueError(
                f"{ENV_VAR}={raw!r} is not a valid stream backend; "
                f"use one of: {', '.join(_CHOICES)}"
            )


def get_stream_backend() -> StreamBackend:
    """Return the stream backend in force, from ``CUPRUM_STREAM_BACKEND``.

    ``auto`` (the default) picks Rust when the extension imports, else
    Python. The value is case-insensitive and surrounding whitespace is
    ignored. The answer is cached per value; `clear_backend_cache` resets it.

    Raises
    ------
    StreamBackendUnavailable
        ``rust`` was asked for but the extension is not installed.
    ValueError
        The variable holds anything else; the message names the variable,
        the value and the valid choices.
    """
    return _resolve(os.environ.get(ENV_VAR))


def clear_backend_cache() -> None:
    """Forget the resolved backend (tests that change the variable use it)."""
    _resolve.cache_clear()
