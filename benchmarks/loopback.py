"""Loopback sshds for the remote rows against asyncssh, logged in with a fair shell.

`fair_login` picks the login the remote benchmarks use: the current user
when its login shell is sh or dash (or when not running as root), else, as
root, a local user ``cuprumfair`` whose shell is ``/bin/sh`` (created when
missing). Root's shell here is bash, whose ``~/.bashrc`` (pyenv init) costs
45-115 ms per command and would swamp every remote figure alike.

`loopback_fleet` starts ``count`` sshd processes on 127.0.0.1 (one process
per "host", each on its own port, sharing one host key and one client key
in a temporary directory), with ``MaxSessions`` raised so that 16 commands
at once fit on one connection for every client alike, and writes an
ssh_config naming them ``cuprum-fleet-00``... At the end every sshd is
stopped by its PID and the directory is removed.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devtools.loopback_sshd import SSHD, sshd_config, stop_sshd

FAIR_USER = "cuprumfair"
FAIR_SHELLS = ("sh", "dash")
ALIAS_PREFIX = "cuprum-fleet-"


@dataclass(frozen=True)
class Login:
    """Who the benchmarks log in as, and that login's shell."""

    user: str
    shell: str  # as in /etc/passwd
    shell_name: str  # what it really is: /bin/sh -> dash
    why: str  # one line for the report

    @property
    def text(self) -> str:
        real = "" if Path(self.shell).name == self.shell_name else f" -> {self.shell_name}"
        return f"{self.user} (login shell {self.shell}{real})"


def _real_name(shell: str) -> str:
    return Path(os.path.realpath(shell)).name


def fair_login() -> Login:
    """The login the remote benchmarks use (see the module docstring)."""
    me = pwd.getpwuid(os.getuid())
    shell = me.pw_shell or "/bin/sh"
    if _real_name(shell) in FAIR_SHELLS:
        return Login(me.pw_name, shell, _real_name(shell), "the current user's shell is sh")
    if os.geteuid() != 0:
        return Login(
            me.pw_name, shell, _real_name(shell), "not root: the current user, with its own shell"
        )
    try:
        entry = pwd.getpwnam(FAIR_USER)
    except KeyError:
        subprocess.run(["useradd", "-m", "-s", "/bin/sh", FAIR_USER], check=True)
        # '*' instead of '!': an account without a password that sshd still
        # lets in with a key under `UsePAM no`.
        subprocess.run(["usermod", "-p", "*", FAIR_USER], check=True)
        entry = pwd.getpwnam(FAIR_USER)
    why = f"root's shell is {Path(shell).name}: a dedicated user whose shell is /bin/sh"
    return Login(entry.pw_name, entry.pw_shell, _real_name(entry.pw_shell), why)


@dataclass(frozen=True)
class Fleet:
    """Loopback sshds and what a client needs to reach them."""

    login: Login
    directory: Path
    config: Path  # ssh_config naming every server
    known_hosts: Path
    client_key: Path
    ports: tuple[int, ...]
    pids: tuple[int, ...]

    @property
    def aliases(self) -> tuple[str, ...]:
        return tuple(f"{ALIAS_PREFIX}{i:02d}" for i in range(len(self.ports)))


def _free_ports(count: int) -> list[int]:
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(s)
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _keygen(path: Path) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "cuprum-bench", "-f", str(path)],
        check=True,
        stdin=subprocess.DEVNULL,
    )


def _banner(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            return s.recv(8).startswith(b"SSH-")
    except OSError:
        return False


@contextlib.contextmanager
def loopback_fleet(count: int, *, max_sessions: int = 64) -> Iterator[Fleet]:
    """Start ``count`` sshds on loopback; stop them by PID and remove everything at the end."""
    login = fair_login()
    if os.geteuid() == 0:
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="cuprum-bench-sshd-") as name:
        directory = Path(name)
        # sshd reads authorized_keys as the login user.
        directory.chmod(0o755)
        _keygen(directory / "host_key")
        _keygen(directory / "client_key")
        keys = directory / "authorized_keys"
        keys.write_text((directory / "client_key.pub").read_text())
        keys.chmod(0o644)
        ports = _free_ports(count)
        log = (directory / "sshd.log").open("wb")
        setpriv = shutil.which("setpriv")
        try:
            for i, port in enumerate(ports):
                conf = directory / f"sshd_config_{i:02d}"
                startups = f"{max(10, 2 * count)}:30:{max(100, 8 * count)}"
                limits = f"AllowUsers {login.user}\nMaxSessions {max_sessions}\n"
                limits += f"MaxStartups {startups}\n"
                pid_file = directory / f"sshd_{i:02d}.pid"
                conf.write_text(sshd_config(directory, pid_file, port, extra=limits))
                argv = [str(SSHD), "-D", "-e", "-f", str(conf)]
                if setpriv is not None:
                    argv = [setpriv, "--pdeathsig", "KILL", *argv]
                procs.append(
                    subprocess.Popen(
                        argv,
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=log,
                        start_new_session=True,
                    )
                )
            deadline = time.monotonic() + 15
            for port, proc in zip(ports, procs, strict=True):
                while not _banner(port):
                    if proc.poll() is not None or time.monotonic() > deadline:
                        log.flush()
                        raise RuntimeError(
                            f"sshd on port {port} did not start:"
                            f" {(directory / 'sshd.log').read_text()}"
                        )
                    time.sleep(0.02)
            host_key = (directory / "host_key.pub").read_text().split()
            known = directory / "known_hosts"
            known.write_text(
                "".join(f"[127.0.0.1]:{p} {host_key[0]} {host_key[1]}\n" for p in ports)
            )
            config = directory / "ssh_config"
            blocks = [f"Host {ALIAS_PREFIX}{i:02d}\n    Port {p}\n" for i, p in enumerate(ports)]
            config.write_text(
                "".join(blocks)
                + f"""Host {ALIAS_PREFIX}*
    HostName 127.0.0.1
    User {login.user}
    IdentityFile {directory}/client_key
    IdentitiesOnly yes
    IdentityAgent none
    UserKnownHostsFile {known}
    GlobalKnownHostsFile /dev/null
    BatchMode yes
    LogLevel ERROR
"""
            )
            yield Fleet(
                login=login,
                directory=directory,
                config=config,
                known_hosts=known,
                client_key=directory / "client_key",
                ports=tuple(ports),
                pids=tuple(p.pid for p in procs),
            )
        finally:
            stop_sshd(*procs)
            log.close()


def cpu_of(pid: int) -> float:
    """Seconds of CPU (user + system) ``pid`` has used so far (/proc/<pid>/stat)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # Fields 14 and 15 of stat(5), counted after "pid (comm)" as 3.. here.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu() -> float:
    """CPU seconds of this process (all threads) and of its reaped children."""
    import resource

    s = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


# --------------------------------------------------------------------------
# the clients compared


async def asyncssh_connect(fleet: Fleet, index: int) -> Any:
    """One asyncssh connection to server ``index`` (asyncio only), same key and login."""
    import asyncssh

    return await asyncssh.connect(
        "127.0.0.1",
        port=fleet.ports[index],
        username=fleet.login.user,
        client_keys=[str(fleet.client_key)],
        known_hosts=str(fleet.known_hosts),
        agent_path=None,
        config=(),
    )


@contextlib.asynccontextmanager
async def cuprum_hosts(fleet: Fleet, count: int, *, max_sessions: int) -> AsyncIterator[list[Any]]:
    """``count`` connected `SSHHost` s, entered concurrently, left together.

    Uses ``cuprum.remote.connect_all`` where this cuprum has it; else one task
    per host in an anyio task group, each holding its host open until the
    block ends.
    """
    import anyio

    import cuprum.remote
    from cuprum.remote import SSHHost

    hosts = [
        SSHHost(alias, config_file=fleet.config, max_sessions=max_sessions)
        for alias in fleet.aliases[:count]
    ]
    connect_all = getattr(cuprum.remote, "connect_all", None)
    if connect_all is not None:
        async with connect_all(hosts) as entered:
            yield list(entered)
        return
    ready = anyio.Event()
    done = anyio.Event()
    entered: list[Any] = []

    async def hold(host: Any) -> None:
        async with host:
            entered.append(host)
            if len(entered) == len(hosts):
                ready.set()
            await done.wait()

    async with anyio.create_task_group() as tg:
        for host in hosts:
            tg.start_soon(hold, host)
        await ready.wait()
        try:
            yield hosts
        finally:
            done.set()


def master_pids(hosts: list[Any]) -> list[int]:
    """The ControlMasters' pids (children of this process, reaped only when they exit)."""
    from cuprum.remote._host import master_of

    pids = []
    for host in hosts:
        child = master_of(host)._child  # the benchmark reads the master's CPU
        if child is not None:
            pids.append(child.pid)
    return pids


def connect_helper() -> str:
    import cuprum.remote

    if getattr(cuprum.remote, "connect_all", None) is not None:
        return "cuprum.remote.connect_all"
    return "an anyio task group, one task holding each host"


def server_cpu(listener_pids: tuple[int, ...]) -> float:
    """CPU seconds used so far by the sshds' processes and their reaped children.

    Sums utime + stime + cutime + cstime of every descendant of the
    listeners (the per-connection sshds, whose cutime holds the finished
    login shells and commands), and of the listeners themselves.
    """
    parent: dict[int, int] = {}
    stats: dict[int, list[str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parent[int(entry)] = int(fields[1])
        stats[int(entry)] = fields
    wanted = set(listener_pids)
    changed = True
    while changed:
        changed = False
        for pid, ppid in parent.items():
            if ppid in wanted and pid not in wanted:
                wanted.add(pid)
                changed = True
    ticks = sum(
        int(stats[pid][11]) + int(stats[pid][12]) + int(stats[pid][13]) + int(stats[pid][14])
        for pid in wanted
        if pid in stats
    )
    return ticks / os.sysconf("SC_CLK_TCK")


def fair_config(config: Path, directory: Path, login: Login) -> Path:
    """An ssh_config like ``config`` (from `run_sshd`) that logs in as ``login``.

    sshd reads ``authorized_keys`` as the login user, so the server's
    directory and that file become readable to it (0755, 0644).
    """
    directory.chmod(0o755)
    keys = directory / "authorized_keys"
    if keys.exists():
        keys.chmod(0o644)
    lines = [
        f"    User {login.user}" if line.strip().startswith("User ") else line
        for line in config.read_text().splitlines()
    ]
    fair = directory / "ssh_config_fair"
    fair.write_text("\n".join(lines) + "\n")
    return fair
