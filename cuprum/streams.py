"""Stream backends: which engine moves bytes between pipeline stages.

Set ``CUPRUM_STREAM_BACKEND`` to ``auto`` (default), ``rust`` or ``python``.
"""

from __future__ import annotations

from ._backend import StreamBackend, clear_backend_cache, get_stream_backend
from ._errors import StreamBackendUnavailable

__all__ = [
    "StreamBackend",
    "StreamBackendUnavailable",
    "clear_backend_cache",
    "get_stream_backend",
]
