"""A private sshd on 127.0.0.1, for the remote-host tests, the benchmarks and the demo.

`run_sshd` starts ``sshd -D -e -f <own config>`` as a child of the calling
process, on a free port, with ed25519 host and client keys in a temporary
directory, ``UsePAM no``, ``StrictModes no`` and its own
``AuthorizedKeysFile`` and ``PidFile``. Readiness is checked with
``ssh-keyscan``, which also gives the ``known_hosts`` line; an ssh_config
file then names the server ``cuprum-test``. A second port, named
``cuprum-test-badshell``, answers every command with a fixed text
(``ForceCommand``), like a login shell that does not parse POSIX sh. At
the end sshd is killed by its PID. The system sshd and ``~/.ssh`` are never touched.

Without ``/usr/sbin/sshd`` the remote tests are skipped, with a reason;
with ``CI=true`` they fail instead (`serve`, the body of the tests' session
fixture). Only `serve` needs pytest; the rest is the standard library.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pytest

SSHD = Path("/usr/sbin/sshd")
ALIAS = "cuprum-test"
BAD_SHELL_ALIAS = "cuprum-test-badshell"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@dataclass(frozen=True)
class SshServer:
    """What the tests need to reach the suite's sshd."""

    port: int
    bad_shell_port: int
    config: Path  # ssh_config naming the server `cuprum-test`
    known_hosts: Path
    directory: Path
    pid: int

    @property
    def alias(self) -> str:
        """The ssh_config name of the server."""
        return ALIAS


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _keygen(path: Path) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "cuprum-test", "-f", str(path)],
        check=True,
        stdin=subprocess.DEVNULL,
    )


def missing_reason() -> str | None:
    """Why the remote tests cannot run here (None: they can)."""
    if not SSHD.exists():
        return f"{SSHD} is not installed (apt-get install openssh-server)"
    for tool in ("ssh", "ssh-keygen", "ssh-keyscan"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt-get install openssh-client)"
    return None


def sshd_config(directory: Path, pid_file: Path, *ports: int, extra: str = "") -> str:
    """The config of a private sshd on loopback: keys in ``directory``, no PAM, keys only.

    ``extra`` (whole lines) comes before the end, where a ``Match`` block may follow.
    """
    listen = "".join(f"Port {port}\n" for port in ports)
    return f"""{listen}ListenAddress 127.0.0.1
HostKey {directory}/host_key
PidFile {pid_file}
AuthorizedKeysFile {directory}/authorized_keys
UsePAM no
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
LogLevel ERROR
{extra}"""


@contextlib.contextmanager
def run_sshd(directory: Path) -> Iterator[SshServer]:
    """Start sshd for ``directory`` (a fresh temporary directory); kill it at the end."""
    _keygen(directory / "host_key")
    _keygen(directory / "client_key")
    (directory / "authorized_keys").write_text((directory / "client_key.pub").read_text())
    if os.geteuid() == 0:
        # sshd insists on its privilege-separation directory (Debian's unit
        # creates it at boot, which a container never does).
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    port = _free_port()
    bad_shell_port = _free_port()
    pid_file = directory / "sshd.pid"
    (directory / "sshd_config").write_text(
        sshd_config(directory, pid_file, port, bad_shell_port, extra="AcceptEnv CUPRUM_TEST_*\n")
        + f"""Match LocalPort {bad_shell_port}
    ForceCommand echo fish: Unsupported use of quotes
"""
    )
    log = (directory / "sshd.log").open("wb")
    argv = [str(SSHD), "-D", "-e", "-f", str(directory / "sshd_config")]
    setpriv = shutil.which("setpriv")
    if setpriv is not None:
        # A test run killed outright (no teardown) takes its sshd with it.
        argv = [setpriv, "--pdeathsig", "KILL", *argv]
    sshd = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    try:
        line = _wait_ready(sshd, port, directory)
        known_hosts = directory / "known_hosts"
        known_hosts.write_text(line + line.replace(f":{port} ", f":{bad_shell_port} "))
        config = directory / "ssh_config"
        config.write_text(
            f"""Host {BAD_SHELL_ALIAS}
    Port {bad_shell_port}
Host {ALIAS} {BAD_SHELL_ALIAS}
    HostName 127.0.0.1
    Port {port}
    User {getpass.getuser()}
    IdentityFile {directory}/client_key
    IdentitiesOnly yes
    IdentityAgent none
    UserKnownHostsFile {known_hosts}
    GlobalKnownHostsFile /dev/null
    LogLevel ERROR
"""
        )
        yield SshServer(
            port=port,
            bad_shell_port=bad_shell_port,
            config=config,
            known_hosts=known_hosts,
            directory=directory,
            pid=sshd.pid,
        )
    finally:
        stop_sshd(sshd)
        log.close()


def stop_sshd(*procs: subprocess.Popen[bytes]) -> None:
    """Stop sshd processes by their PIDs: SIGTERM to all, SIGKILL to any still there after 5 s."""
    for proc in procs:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


def _wait_ready(sshd: subprocess.Popen[bytes], port: int, directory: Path) -> str:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if sshd.poll() is not None:
            raise RuntimeError(
                f"sshd exited with {sshd.returncode}: {(directory / 'sshd.log').read_text()}"
            )
        scan = subprocess.run(
            ["ssh-keyscan", "-T", "2", "-t", "ed25519", "-p", str(port), "127.0.0.1"],
            capture_output=True,
            check=False,
        )
        lines = [
            line
            for line in scan.stdout.decode().splitlines()
            if line.strip() and not line.startswith("#")
        ]
        if lines:
            return "\n".join(lines) + "\n"
        time.sleep(0.05)
    raise RuntimeError(f"sshd did not answer ssh-keyscan on port {port} within 15 s")


def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshServer]:
    """Body of the session fixture: skips, or fails in CI, when sshd is absent."""
    # Here, not at the top: the benchmarks and the demo use this module without pytest.
    import pytest  # noqa: PLC0415

    reason = missing_reason()
    if reason is not None:
        if IN_CI:
            pytest.fail(f"CI=true but the remote tests cannot run: {reason}")
        pytest.skip(reason)
    with run_sshd(tmp_path_factory.mktemp("sshd")) as server:
        yield server
