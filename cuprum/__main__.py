"""``python -m cuprum info``: what this installation can do."""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import sys

from ._backend import ENV_VAR, extension_available, get_stream_backend, splice_available
from ._native import load_extension
from ._version import __version__


def _loops() -> list[str]:
    found = ["asyncio"]
    for name in ("trio", "uvloop"):
        if importlib.util.find_spec(name) is not None:
            found.append(name)
    return found


def info() -> int:
    """Print the version, backend and capabilities.

    Returns
    -------
    int
        0, or 1 when ``CUPRUM_STREAM_BACKEND`` names no usable backend.
    """
    status = 0
    try:
        backend = str(get_stream_backend())
    except (ValueError, RuntimeError) as exc:
        backend, status = f"error: {exc}", 1
    module = load_extension()
    rows = [
        ("cuprum", __version__),
        ("python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("platform", f"{sys.platform} {platform.machine()}"),
        (ENV_VAR, os.environ.get(ENV_VAR) or "(not set: auto)"),
        ("stream backend", backend),
        (
            "rust extension",
            module.__version__
            if module is not None
            else "not installed (cuprum._streams_rs "
            "was not built: no Rust toolchain at install time, or a pure-Python install)",
        ),
        ("extension available", "yes" if extension_available() else "no"),
        ("splice()", "yes" if splice_available() else "no"),
        ("event loops", ", ".join(_loops())),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    return status


def main(argv: list[str] | None = None) -> int:
    """Run the command line."""
    parser = argparse.ArgumentParser(prog="python -m cuprum")
    parser.add_argument("command", choices=["info"], help="what to do")
    parser.parse_args(argv)
    return info()


if __name__ == "__main__":
    raise SystemExit(main())
