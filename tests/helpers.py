"""Shared test helpers: child programs, /proc probes, leak checks, event checks.

Fixtures live in ``tests/conftest.py``; everything a test module imports by
name lives here, so no test imports from ``conftest``.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import threading
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

from cuprum import EventPhase, ExecEvent, _native

ROOT = Path(__file__).resolve().parents[1]
RUST_AVAILABLE = _native.load_extension() is not None
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

LOOPS = [
    pytest.param("asyncio", id="asyncio"),
    pytest.param("trio", id="trio"),
]
LOOPS_WITH_UVLOOP = [
    LOOPS[0],
    pytest.param(("asyncio", {"use_uvloop": True}), id="uvloop"),
    LOOPS[1],
]
"""For pipeline and cancellation tests: asyncio on uvloop as well."""


def python_child(code: str) -> list[str]:
    """argv running a small Python program (children need no special tools)."""
    return [sys.executable, "-c", code]


def open_fds() -> set[int]:
    """The descriptors this process has open."""
    return {int(name) for name in os.listdir("/proc/self/fd")} - {_probe_fd()}


def _probe_fd() -> int:
    # listdir opens the directory itself; its number is the lowest free one.
    fd = os.open("/proc/self", os.O_RDONLY)
    os.close(fd)
    return fd


DOC_PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
"""The README and every page of docs/: the files whose examples the tests run."""


def doc_examples(docs: list[Path], info: str = "python") -> list[pytest.ParameterSet]:
    """The code blocks fenced as ```` ```<info> ```` in ``docs``, one param each."""
    fence = re.compile(rf"^```{re.escape(info)}\n(.*?)^```", re.DOTALL | re.MULTILINE)
    params: list[pytest.ParameterSet] = []
    for doc in docs:
        text = doc.read_text()
        for index, match in enumerate(fence.finditer(text)):
            line = text[: match.start()].count("\n") + 1
            params.append(pytest.param(match.group(1), id=f"{doc.name}:{line}:{index}"))
    return params


def run_example(
    code: str, tmp_path: Path, *, env: dict[str, str] | None = None, timeout: float = 60
) -> None:
    """Run ``code`` as a script from the repository root; fail with its output."""
    script = tmp_path / "example.py"
    script.write_text(code)
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        check=False,
    )
    assert done.returncode == 0, done.stderr + done.stdout


@dataclass(frozen=True)
class ProcInfo:
    """One process as /proc shows it."""

    pid: int
    ppid: int
    pgid: int
    state: bytes  # b"Z" and b"X": a zombie, not running any more
    comm: str
    cmdline: bytes  # NUL-separated argv (empty for zombies and kernel threads)

    @property
    def live(self) -> bool:
        return self.state not in (b"Z", b"X")


def processes(*, cmdlines: bool = False) -> dict[int, ProcInfo]:
    """Every process of the machine, by pid (``cmdline`` read only on request)."""
    table: dict[int, ProcInfo] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_bytes()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes() if cmdlines else b""
        except OSError:
            continue  # it ended meanwhile
        head, _, rest = stat.rpartition(b")")
        fields = rest.split()
        table[int(entry)] = ProcInfo(
            pid=int(entry),
            ppid=int(fields[1]),
            pgid=int(fields[2]),
            state=fields[0],
            comm=head.partition(b"(")[2].decode(errors="replace"),
            cmdline=cmdline,
        )
    return table


def child_pids() -> set[int]:
    """Pids whose parent is this process (zombies included: unreaped is a leak)."""
    mine = os.getpid()
    return {info.pid for info in processes().values() if info.ppid == mine}


def live_processes_in_group(pgid: int) -> list[int]:
    """Non-zombie processes in a process group (orphan zombies are init's)."""
    return [info.pid for info in processes().values() if info.pgid == pgid and info.live]


def processes_with_marker(marker: str) -> list[int]:
    """Live processes whose command line contains ``marker``."""
    wanted, mine = marker.encode(), os.getpid()
    return [
        info.pid
        for info in processes(cmdlines=True).values()
        if info.pid != mine and info.live and wanted in info.cmdline
    ]


@dataclass
class Snapshot:
    """Descriptors and children at one moment."""

    fds: set[int]
    children: set[int]


class LeakChecker:
    """Compare descriptors and child processes before and after a block."""

    def __init__(self) -> None:
        self.before = Snapshot(open_fds(), child_pids())

    def assert_clean(self) -> None:
        """Fail if a descriptor or child process appeared since the start."""
        after = Snapshot(open_fds(), child_pids())
        new_children = after.children - self.before.children
        assert not new_children, f"child processes left behind: {sorted(new_children)}"
        leaked = after.fds - self.before.fds
        details = {fd: _describe_fd(fd) for fd in leaked}
        assert not leaked, f"descriptors leaked: {details}"


def _describe_fd(fd: int) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return "?"


def rss_kib() -> int:
    """This process's resident set size, in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS in /proc/self/status")


def write_random_file(path: Path, mib: int) -> str:
    """Fill ``path`` with ``mib`` MiB of random bytes; return their sha256."""
    digest = hashlib.sha256()
    with path.open("wb") as handle:
        for _ in range(mib):
            chunk = os.urandom(1 << 20)
            digest.update(chunk)
            handle.write(chunk)
    return digest.hexdigest()


def thread_names() -> list[str]:
    """Names of live threads (for tests on worker threads)."""
    return [t.name for t in threading.enumerate()]


# --- execution events -----------------------------------------------------------

FINAL = {EventPhase.EXIT, EventPhase.TIMEOUT, EventPhase.CANCEL}
LINES = {EventPhase.STDOUT, EventPhase.STDERR}


def by_run(events: list[ExecEvent]) -> dict[str, list[ExecEvent]]:
    """``events`` grouped by run id, each run's events in order."""
    runs: dict[str, list[ExecEvent]] = defaultdict(list)
    for event in events:
        runs[event.run_id].append(event)
    return dict(runs)


def assert_well_formed(events: list[ExecEvent]) -> None:
    """plan, start, lines, then exactly one final event, last; times ordered."""
    phases = [e.phase for e in events]
    assert phases[:2] == [EventPhase.PLAN, EventPhase.START], phases
    assert phases[-1] in FINAL, phases
    assert all(p in LINES for p in phases[2:-1]), phases
    assert sum(p in FINAL for p in phases) == 1, phases
    assert len({e.run_id for e in events}) == 1
    times = [e.time for e in events]
    assert times == sorted(times)
    assert events[0].pid is None
    assert all(e.pid is not None and e.pid == events[1].pid for e in events[1:])
    assert events[-1].duration is not None
    assert events[-1].duration >= 0


def lines_of(events: list[ExecEvent], phase: EventPhase) -> list[str | None]:
    """The ``line`` of every event of ``phase`` (STDOUT or STDERR)."""
    return [e.line for e in events if e.phase is phase]
