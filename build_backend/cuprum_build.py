"""cuprum's build backend: the Rust stream engine when a toolchain is here, pure Python otherwise.

cuprum is one distribution whose Rust extension (``cuprum._streams_rs``) is
optional: the library falls back to its Python pumps without it. This PEP 517
backend picks who builds the wheel:

* a Rust toolchain is found (``cargo``, or the program named by ``$CARGO``,
  on ``PATH``): maturin builds the ``cp311-abi3`` wheel with the extension,
  and a failing Rust build fails the install, so a broken toolchain is seen;
* no toolchain: hatchling builds a pure-Python ``py3-none-any`` wheel, without
  trying to download one (maturin would fetch a whole Rust toolchain).

``CUPRUM_BUILD_RUST`` overrides the choice: ``auto`` (the default), ``yes``
(build the extension or fail) or ``no`` (pure Python even with a toolchain).
Source distributions are always made by hatchling and hold everything both
paths need. Both paths read the same ``[project]`` table, and the version
comes from the crate's ``Cargo.toml`` for both.
"""

from __future__ import annotations

import importlib
import os
import shutil
import sys
from types import ModuleType
from typing import Any

__all__ = [
    "build_editable",
    "build_sdist",
    "build_wheel",
    "get_requires_for_build_editable",
    "get_requires_for_build_sdist",
    "get_requires_for_build_wheel",
]

ENV_VAR = "CUPRUM_BUILD_RUST"
MATURIN = "maturin>=1.5,<2"
HATCHLING = "hatchling>=1.21"
ConfigSettings = dict[str, Any] | None


def _with_rust() -> bool:
    """Whether this build makes the Rust extension."""
    choice = os.environ.get(ENV_VAR, "auto").strip().lower()
    if choice in {"yes", "1", "true"}:
        return True
    if choice in {"no", "0", "false"}:
        return False
    if choice != "auto":
        message = f"{ENV_VAR}={choice!r} is not valid; use one of: auto, yes, no"
        raise ValueError(message)
    found = shutil.which(os.environ.get("CARGO", "cargo")) is not None
    if not found:
        print(
            "cuprum: no Rust toolchain (cargo) on PATH: building the pure-Python wheel; "
            "cuprum will use its Python stream backend. Install Rust and reinstall for the "
            f"Rust engine, or set {ENV_VAR}=yes to require it.",
            file=sys.stderr,
        )
    return found


def _backend(*, sdist: bool = False) -> ModuleType:
    """Import the backend that does the work (a build requirement by now)."""
    name = "hatchling.build" if sdist or not _with_rust() else "maturin"
    return importlib.import_module(name)


def _requires(*, sdist: bool = False) -> list[str]:
    return [HATCHLING] if sdist or not _with_rust() else [MATURIN]


def get_requires_for_build_wheel(config_settings: ConfigSettings = None) -> list[str]:
    """Name the backend the wheel needs: maturin, or hatchling without Rust."""
    return _requires()


def get_requires_for_build_editable(config_settings: ConfigSettings = None) -> list[str]:
    """Name the backend the editable wheel needs."""
    return _requires()


def get_requires_for_build_sdist(config_settings: ConfigSettings = None) -> list[str]:
    """Name the sdist's backend: always hatchling."""
    return _requires(sdist=True)


def __getattr__(name: str) -> Any:
    """Offer the optional metadata hooks only where the chosen backend has them.

    hatchling has no ``prepare_metadata_for_build_*``; a frontend that finds
    no such hook takes the metadata from the built wheel instead (PEP 517).
    """
    if name in {"prepare_metadata_for_build_wheel", "prepare_metadata_for_build_editable"}:
        return getattr(_backend(), name)
    message = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(message)


def build_wheel(
    wheel_directory: str,
    config_settings: ConfigSettings = None,
    metadata_directory: str | None = None,
) -> str:
    """Build the wheel: with the extension (maturin) or pure Python (hatchling)."""
    return str(_backend().build_wheel(wheel_directory, config_settings, metadata_directory))


def build_editable(
    wheel_directory: str,
    config_settings: ConfigSettings = None,
    metadata_directory: str | None = None,
) -> str:
    """Build an editable wheel with the chosen backend."""
    return str(_backend().build_editable(wheel_directory, config_settings, metadata_directory))


def build_sdist(sdist_directory: str, config_settings: ConfigSettings = None) -> str:
    """Build the source distribution (hatchling): sources for both wheel paths."""
    return str(_backend(sdist=True).build_sdist(sdist_directory, config_settings))
