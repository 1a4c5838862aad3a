"""``python -m cuprum info``: what this installation can do."""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import sys
from importlib.metadata import PackageNotFoundError, distribution

from ._backend import (
    ENV_VAR,
    REMOTE_CLIENT_VAR,
    extension_available,
    get_stream_backend,
    remote_client,
    splice_available,
)
from ._native import load_extension
from ._version import __version__


def _loops() -> list[str]:
    found = ["asyncio"]
    for name in ("trio", "uvloop"):
        if importlib.util.find_spec(name) is not None:
            found.append(name)
    return found


_REMOTE_SESSIONS = {
    "auto": "in-process on the ControlMaster's socket (mux protocol 4); "
    "an ssh client each where the master refuses it",
    "ssh": "an ssh client process each, through the ControlMaster",
}


def _splice() -> str:
    rust = "rust pump" if splice_available() else None
    python = "python pump (os.splice)" if hasattr(os, "splice") else None
    used = [name for name in (rust, python) if name]
    return f"yes: {', '.join(used)}" if used else "no (read/write copies)"


def _why_no_extension() -> str:
    """Say why ``cuprum._streams_rs`` is missing, from how cuprum was installed."""
    try:
        wheel = distribution("cuprum").read_text("WHEEL") or ""
    except PackageNotFoundError:
        return "not installed (cuprum is imported from a checkout that was never built)"
    tags = [line.split(":", 1)[1].strip() for line in wheel.splitlines() if line.startswith("Tag:")]
    if any(tag.endswith("-none-any") for tag in tags):
        return (
            "not installed (a pure-Python wheel: cuprum was built without a Rust toolchain "
            "or with CUPRUM_BUILD_RUST=no; install Rust and reinstall cuprum for the engine)"
        )
    return f"missing (cuprum was built with it, wheel tag {', '.join(tags) or '?'}: reinstall)"


def info() -> int:
    """Print the version, backend and capabilities.

    Returns
    -------
    int
        0; 2 when ``CUPRUM_STREAM_BACKEND`` or ``CUPRUM_REMOTE_CLIENT`` holds
        an invalid value; 1 when the first names a backend that cannot run
        here (``rust`` without the extension).
    """
    status = 0
    try:
        backend = str(get_stream_backend())
    except ValueError as exc:
        backend, status = f"error: {exc}", 2
    except RuntimeError as exc:
        backend, status = f"error: {exc}", 1
    try:
        sessions = _REMOTE_SESSIONS[remote_client()]
    except ValueError as exc:
        sessions, status = f"error: {exc}", 2
    module = load_extension()
    rows = [
        ("cuprum", __version__),
        ("python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("platform", f"{sys.platform} {platform.machine()}"),
        (ENV_VAR, os.environ.get(ENV_VAR) or "(not set: auto)"),
        ("stream backend", backend),
        (
            "rust extension",
            module.__version__ if module is not None else _why_no_extension(),
        ),
        ("extension available", "yes" if extension_available() else "no"),
        ("splice()", _splice()),
        ("event loops", ", ".join(_loops())),
        (REMOTE_CLIENT_VAR, os.environ.get(REMOTE_CLIENT_VAR) or "(not set: auto)"),
        ("remote sessions", sessions),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    for value in (backend, sessions):
        if value.startswith("error: "):
            print(f"python -m cuprum: {value}", file=sys.stderr)
    return status


def main(argv: list[str] | None = None) -> int:
    """Run the command line."""
    parser = argparse.ArgumentParser(prog="python -m cuprum")
    parser.add_argument("command", choices=["info"], help="what to do")
    parser.parse_args(argv)
    return info()


if __name__ == "__main__":
    raise SystemExit(main())
