"""The one place that imports the Rust extension ``cuprum._streams_rs``.

Only "module not found" means the extension is absent; any other import
error (a broken build, an ABI mismatch) is raised, loudly.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["load_extension"]

_MODULE = "cuprum._streams_rs"
_cached: ModuleType | None = None
_probed = False


def load_extension() -> ModuleType | None:
    """Return the extension module, or None when it is not built."""
    global _cached, _probed  # noqa: PLW0603 (a process-wide probe, done once)
    if not _probed:
        try:
            module = importlib.import_module(_MODULE)
        except ModuleNotFoundError as exc:
            if exc.name != _MODULE:
                raise
            _cached = None
        else:
            _cached = module
        _probed = True
    return _cached
