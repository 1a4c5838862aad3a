"""Running the ``ssh`` binary: checked arguments, short control calls, the probe."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import anyio

from .._process import spawn

if TYPE_CHECKING:
    from ._child import Client

__all__ = [
    "CONTROL_TIMEOUT",
    "PROBE",
    "PROBE_ANSWER",
    "call_ssh",
    "check_destination",
    "check_options",
    "short_call",
    "socket_dir",
]

_OPTION_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*\Z")
# Options cuprum sets itself; a user's value would break the design.
_RESERVED = frozenset(
    name.lower()
    for name in (
        "BatchMode", "ConnectTimeout", "ControlMaster", "ControlPath", "ControlPersist",
        "ForkAfterAuthentication", "RemoteCommand", "RequestTTY", "SessionType",
        "StdinNull", "StrictHostKeyChecking",
    )
)  # fmt: skip
# Shell-neutral on POSIX shells; fish reads `\\` in single quotes as one
# backslash, csh refuses `$((` and a newline inside quotes.
PROBE = "printf '%s\\n' 'cuprum'\"'\"'probe\\\\' 'x\ny' \"$((6*7))\""
PROBE_ANSWER = b"cuprum'probe\\\\\nx\ny\n42\n"
CONTROL_TIMEOUT = 5.0  # bound on one `-O check`, `-O exit` or kill session


def check_destination(destination: object) -> str:
    """Return ``destination`` if ssh cannot mistake it for an option, else raise.

    Raises
    ------
    TypeError, ValueError
        Not a non-empty str; a leading ``-``, whitespace or control characters.
    """
    if not isinstance(destination, str) or not destination:
        raise TypeError(f"destination must be a non-empty str, got {destination!r}")
    if destination.startswith("-"):
        raise ValueError(f"destination {destination!r} starts with '-' (ssh would read an option)")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in destination):
        raise ValueError(f"destination {destination!r} contains whitespace or control characters")
    return destination


def check_options(options: Mapping[str, str | int] | None) -> tuple[str, ...]:
    """Turn ssh_config options into ``-o Name=value`` words, or raise.

    Raises
    ------
    ValueError
        A malformed name, an option cuprum sets itself, a newline in a value.
    """
    words: list[str] = []
    for name, value in (options or {}).items():
        if not _OPTION_NAME.match(name):
            raise ValueError(f"options: {name!r} is not an ssh_config option name")
        if name.lower() in _RESERVED:
            raise ValueError(
                f"options: {name} is set by cuprum and cannot be overridden "
                "(connect_timeout= and host_keys= set ConnectTimeout and StrictHostKeyChecking)"
            )
        text = str(value)
        if any(ch in text for ch in "\0\r\n"):
            raise ValueError(f"options: the value of {name} contains a newline or NUL")
        words += ["-o", f"{name}={text}"]
    return tuple(words)


def socket_dir() -> str:
    """Make a private (0700) directory for a control socket, with a short path."""
    # sun_path holds 104-108 bytes; the %C name takes 40 of them.
    directory = tempfile.mkdtemp(prefix="cuprum-ssh-")
    if len(directory) <= 60 and not any(ch.isspace() or ch in "\"'" for ch in directory):
        return directory
    os.rmdir(directory)
    return tempfile.mkdtemp(prefix="cuprum-ssh-", dir="/tmp")


async def short_call(
    start: Callable[[int, int, int], Client], timeout: float
) -> tuple[int | None, bytes, bytes]:
    """Run something short on (empty stdin, stdout, stderr); return (status, stdout, stderr).

    ``start`` gets the three descriptors and returns the running call: an
    ``ssh`` process, or a session opened on the master's socket. Its output
    goes to temporary files, so no I/O task is needed. A call still running
    after ``timeout`` is ended: its status is then that of the ending
    (negative), never 0.

    Cancellation: the call is ended and closed (shielded) first.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        null = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        try:
            call = start(null, out.fileno(), err.fileno())
        finally:
            os.close(null)
        try:
            with anyio.move_on_after(timeout):
                await call.wait()
        finally:
            with anyio.CancelScope(shield=True):
                if call.returncode is None:
                    await call.terminate(0.5)
                call.close()
        out.seek(0)
        err.seek(0)
        return call.returncode, out.read(), err.read()


async def call_ssh(
    argv: Sequence[str], executable: str, timeout: float
) -> tuple[int | None, bytes, bytes]:
    """Run a short ``ssh`` call: `short_call` with an ``ssh`` process."""
    return await short_call(
        lambda stdin, stdout, stderr: spawn(
            tuple(argv), executable, stdin=stdin, stdout=stdout, stderr=stderr, cwd=None, env=None
        ),
        timeout,
    )
