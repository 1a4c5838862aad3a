"""Fixtures and helpers shared by tests/unit/test_remote_*.py.

The sshd runs on this machine, so "remote" processes are visible here:
kill tests look for them in /proc (ignoring zombies, which init reaps
lazily on some machines).

A test file takes the fixtures by importing them (pytest finds them by
name in the file): ``sshd_server``, ``anyio_backend`` (module scope, so
that one `SSHHost` serves all the tests of a loop in a file), ``host`` and
the autouse ``private_tempdir``.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator

import anyio
import pytest

from cuprum import unsafe
from cuprum.remote import SSHHost
from devtools.loopback_sshd import ALIAS, SshServer, serve
from tests.helpers import LOOPS, processes

GRACE = 0.5
STDIN_MODES = [pytest.param(b"x", id="stdin"), pytest.param(None, id="lifeline")]

AWKWARD = [
    "two words",
    "it's",
    'say "hi"',
    "$(id)",
    "`id`",
    "*",
    "-n",
    "--",
    "new\nline",
    "back\\slash",
    "tab\there",
    "ünïcödé ✓",
    "",
    "%s %d",
    ";|&<>",
    "~",
]

_RUNNING: list[SshServer] = []  # the session's sshd, once a file has started it


@pytest.fixture(scope="session")
def sshd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshServer]:
    """The suite's own sshd on 127.0.0.1 (see devtools/loopback_sshd.py).

    Every file that imports this fixture has a session fixture of its own:
    the first one set up starts sshd and stops it at the end of the session,
    the others use the same server, so a run starts one sshd, as before.
    """
    if _RUNNING:
        yield _RUNNING[0]
        return
    for server in serve(tmp_path_factory):
        _RUNNING.append(server)
        try:
            yield server
        finally:
            _RUNNING.clear()


@pytest.fixture(scope="module", params=LOOPS)
def anyio_backend(request: pytest.FixtureRequest) -> object:
    """Module scope: one SSHHost serves all the tests of a loop."""
    return request.param


CLIENTS = [pytest.param("mux", id="mux"), pytest.param("ssh", id="ssh-client")]
"""How sessions are opened: in-process on the control socket, or an ``ssh`` client each."""


@contextlib.asynccontextmanager
async def connect(
    server: SshServer, client: str = "mux", *, direct: bool | None = None
) -> AsyncIterator[SSHHost]:
    """Enter an `SSHHost` of the suite's sshd whose sessions are opened as ``client`` says.

    ``direct`` overrides what the host learned of its login shell (the
    suite's login is bash, which gets ``exec /bin/sh``; True makes it run
    the wrapper itself, as an ``sh`` or ``dash`` login does).
    """
    host = SSHHost(ALIAS, config_file=server.config)
    with pytest.MonkeyPatch.context() as patch:  # read when the master starts
        patch.setenv("CUPRUM_REMOTE_CLIENT", "auto" if client == "mux" else "ssh")
        await host.__aenter__()
    try:
        master = host._master  # pyright: ignore[reportPrivateUsage]
        assert master is not None
        assert (master.mux_pid is not None) == (client == "mux")
        if direct is not None:
            master.direct = direct
        yield host
    finally:
        await host.__aexit__(None, None, None)


@pytest.fixture(scope="module")
async def host(sshd_server: SshServer) -> AsyncIterator[SSHHost]:
    async with connect(sshd_server) as connected:
        yield connected


@pytest.fixture(autouse=True)
def private_tempdir(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A short temporary directory of this test's own, for the socket directories.

    Other test runs on the machine make theirs in /tmp; `socket_dirs` only
    looks here. (pytest's own base directory is fixed first, outside it.)
    """
    tmp_path_factory.getbasetemp()
    directory = tempfile.mkdtemp(prefix="cu-", dir="/tmp")
    monkeypatch.setattr(tempfile, "tempdir", directory)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def socket_dirs() -> set[str]:
    root = tempfile.gettempdir()
    return {os.path.join(root, name) for name in os.listdir(root) if name.startswith("cuprum-ssh-")}


def remote(*argv: str):
    return unsafe.dynamic(argv)


def live(argv: list[str]) -> list[int]:
    """Live (not zombie) processes whose argv is exactly ``argv``."""
    wanted = b"\0".join(arg.encode() for arg in argv) + b"\0"
    return [i.pid for i in processes(cmdlines=True).values() if i.cmdline == wanted and i.live]


async def until(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await anyio.sleep(0.02)
    return predicate()


def sleepers() -> tuple[str, list[list[str]]]:
    """A `sh -c 'sleep N & sleep N+1'` script with fresh numbers, and its sleeps."""
    n = random.randrange(3_000_000, 3_900_000)
    return f"sleep {n} & sleep {n + 1}", [["sleep", str(n)], ["sleep", str(n + 1)]]


def running(groups: list[list[str]]) -> list[int]:
    return [pid for argv in groups for pid in live(argv)]
