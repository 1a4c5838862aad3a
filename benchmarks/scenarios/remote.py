"""8. Remote hosts on a loopback sshd: the same work with and without ``.on(host)``.

The sshd is `devtools.loopback_sshd.run_sshd`, logged in with the fair
login of `benchmarks.loopback` (as root: a user whose shell is /bin/sh, so
that root's ``.bashrc`` does not swamp every figure); without ``/usr/sbin/sshd``
the scenario gives one "skipped" row with the reason. No timing is asserted.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import cuprum
from benchmarks.harness import (
    BACKENDS,
    MiB,
    Row,
    Versus,
    alternate,
    check,
    flat,
    log,
    loop_run,
    median,
    p90,
    size_name,
    use_backend,
)
from benchmarks.loopback import Login, fair_config, fair_login
from benchmarks.payloads import Payloads
from benchmarks.remote_rows import time_true
from cuprum import CAT, SHA256SUM, WC, sh
from devtools.loopback_sshd import ALIAS, missing_reason, run_sshd

TITLE = "8. Remote host (loopback sshd, cuprum.remote.SSHHost) vs the same run locally"

REMOTE_LOOPS = ("asyncio", "trio")
# What sshd puts in a session's environment (besides SSH_*): the login shell
# sees the same, so `bash` reads ~/.bashrc here exactly as it does under sshd.
SSHD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def login_shell_versus(count: int, login: Login) -> Versus:
    """The login's shell running `true` as sshd starts it, vs without rc files.

    sshd runs a command as ``<login shell> -c <command>`` with ``SSH_CLIENT``
    set, and bash then reads ``~/.bashrc`` even though it is not
    interactive; without ``SSH_CLIENT`` it reads nothing. Run as the login
    (`benchmarks.loopback.fair_login`) the remote rows use.
    """
    import pwd

    entry = pwd.getpwnam(login.user)
    as_user = (
        {}
        if entry.pw_uid == os.getuid()
        else {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
    )
    shell = entry.pw_shell or "/bin/sh"
    base = {
        "HOME": entry.pw_dir,
        "USER": entry.pw_name,
        "LOGNAME": entry.pw_name,
        "SHELL": shell,
        "PATH": SSHD_PATH,
    }
    as_sshd = {
        **base,
        "SSH_CLIENT": "127.0.0.1 50000 22",
        "SSH_CONNECTION": "127.0.0.1 50000 127.0.0.1 22",
    }

    def runs(env: dict[str, str]) -> list[float]:
        times: list[float] = []
        for _ in range(count):
            start = time.perf_counter()
            subprocess.run(
                [shell, "-c", "true"],
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                check=True,
                cwd=entry.pw_dir,
                **as_user,
            )
            times.append(time.perf_counter() - start)
        return times

    name = Path(shell).name
    return Versus(
        f"login shell: {name} -c true ({login.user})", lambda: runs(as_sshd), lambda: runs(base)
    )


def bench_remote(
    payloads: Payloads,
    *,
    count: int,
    latency_rounds: int,
    size: int,
    trip_rounds: int,
    shell_runs: int,
    loops: tuple[str, ...] = REMOTE_LOOPS,
    backends: tuple[str, ...] = BACKENDS,
) -> list[Row]:
    """Latency of `true` and a round trip through remote `cat`, each vs local.

    Every remote sample is a fresh ``anyio.run`` that connects an `SSHHost`
    (its own ControlMaster, timed apart as "connect") and then times the
    commands only. The local sample is the same work without ``.on(host)``.
    """
    log(f"\nremote: loopback sshd, `true` x {count} per sample and {size_name(size)} round trip")
    reason = missing_reason()
    if reason is not None:
        log(f"  skipped: {reason}")
        return [Row("remote", "skipped", "s", [], extra={"kind": "skipped", "reason": reason})]
    from cuprum.remote import SSHHost

    path = payloads.random(size)
    rows: list[Row] = []
    connects: list[float] = []
    with contextlib.ExitStack() as stack:
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="cuprum-sshd-")))
        try:
            server = stack.enter_context(run_sshd(directory))
        except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
            reason = f"the loopback sshd did not start: {exc}"
            log(f"  skipped: {reason}")
            return [Row("remote", "skipped", "s", [], extra={"kind": "skipped", "reason": reason})]
        login = fair_login()
        config = fair_config(server.config, directory, login)
        log(f"  sshd on 127.0.0.1:{server.port} (pid {server.pid}), config {config}")
        log(f"  login: {login.text} ({login.why})")

        def on_host(
            loop: str, backend: str, body: Callable[[SSHHost | None], Awaitable[list[float]]]
        ) -> list[float]:
            async def go() -> list[float]:
                start = time.perf_counter()
                async with SSHHost(ALIAS, config_file=config) as host:
                    connects.append(time.perf_counter() - start)
                    return await body(host)

            use_backend(backend)
            return loop_run(loop, go)

        def local(
            loop: str, backend: str, body: Callable[[None], Awaitable[list[float]]]
        ) -> list[float]:
            use_backend(backend)
            return loop_run(loop, lambda: body(None))

        async def true_batch(host: SSHHost | None) -> list[float]:
            return await time_true(host, count)

        def round_trip(host: SSHHost | None, last: cuprum.SafeCmd) -> cuprum.Pipeline:
            cat = sh.make(CAT)
            return cat(str(path)) | (cat() if host is None else cat().on(host)) | last

        async def trip(host: SSHHost | None) -> list[float]:
            pipe = round_trip(host, sh.make(WC)("-c"))
            start = time.perf_counter()
            result = await pipe.run()
            seconds = time.perf_counter() - start
            check(result.ok and int(result.stdout or "-1") == size, f"bad round trip {result!r}")
            return [seconds]

        # Once, untimed: the bytes come back unchanged.
        async def digest(host: SSHHost | None) -> list[float]:
            result = await round_trip(host, sh.make(SHA256SUM)()).run(check=True)
            check((result.stdout or "").split()[0] == want, "round trip changed the bytes")
            return []

        sha = hashlib.sha256()
        with open(path, "rb") as f:
            while chunk := f.read(4 * MiB):
                sha.update(chunk)
        want = sha.hexdigest()
        on_host("asyncio", BACKENDS[-1], digest)
        log(f"  {size_name(size)} came back unchanged (sha256 {want[:16]}...)")
        connects.clear()

        variants = [(loop, backend) for loop in loops for backend in backends]

        def per_variant(
            label: str, work: Callable[[SSHHost | None], Awaitable[list[float]]]
        ) -> list[Versus]:
            """One remote-vs-local pair of `work` per loop x backend."""
            return [
                Versus(
                    f"{label} {lp}/{b}",
                    lambda lp=lp, b=b: on_host(lp, b, work),
                    lambda lp=lp, b=b: local(lp, b, work),
                )
                for lp, b in variants
            ]

        latency = per_variant("`true`", true_batch)
        shell = login_shell_versus(shell_runs, login)
        alternate("remote true", [*latency, shell], latency_rounds)
        trips = per_variant(f"{size_name(size)} round trip", trip)
        alternate(f"remote {size_name(size)}", trips, trip_rounds)

    for pair, (loop, backend) in zip(latency, variants, strict=True):
        remote, local_times = flat(pair.remote_samples), flat(pair.local_samples)
        rows.append(
            Row(
                scenario="remote",
                label=f"`true` sequential {loop}/{backend}",
                unit="s",
                samples=remote,
                ref_label="same command, local",
                ref_samples=local_times,
                ratio=median(pair.time_ratios()),
                extra={
                    "kind": "latency",
                    "ratio_is": "remote / local (median time, per round)",
                    "p90": p90(remote),
                    "ref_p90": p90(local_times),
                    "commands_per_sample": count,
                    "loop": loop,
                    "backend": backend,
                },
            )
        )
    shell_with, shell_without = flat(shell.remote_samples), flat(shell.local_samples)
    rows.append(
        Row(
            scenario="remote",
            label=shell.label + " (as sshd)",
            unit="s",
            samples=shell_with,
            ref_label="same without SSH_CLIENT (no rc file)",
            ref_samples=shell_without,
            ratio=median(shell.time_ratios()),
            target="(info)",
            extra={
                "kind": "shell",
                "ratio_is": "as sshd / without rc files",
                "p90": p90(shell_with),
                "ref_p90": p90(shell_without),
            },
        )
    )
    rows.append(
        Row(
            scenario="remote",
            label="SSHHost connect (master + shell probe)",
            unit="s",
            samples=list(connects),
            target="(info)",
            extra={"kind": "connect", "p90": p90(connects)},
        )
    )
    for pair, (loop, backend) in zip(trips, variants, strict=True):
        rows.append(
            Row(
                scenario="remote",
                label=f"{size_name(size)} round trip {loop}/{backend}",
                unit="MB/s",
                samples=flat(pair.remote_samples),
                per=size,
                ref_label="cat F | cat | wc -c, local",
                ref_samples=flat(pair.local_samples),
                # MB/s remote / MB/s local = local time / remote time.
                ratio=median([1 / x for x in pair.time_ratios()]),
                extra={
                    "kind": "throughput",
                    "ratio_is": "remote MB/s / local MB/s (per round)",
                    "payload": size,
                    "loop": loop,
                    "backend": backend,
                },
            )
        )
    return rows


def run(payloads: Payloads, quick: bool) -> list[Row]:
    if quick:
        return bench_remote(
            payloads,
            count=8,
            latency_rounds=1,
            size=64 * MiB,
            trip_rounds=1,
            shell_runs=3,
            backends=BACKENDS[-1:],
        )
    return bench_remote(
        payloads, count=10, latency_rounds=4, size=256 * MiB, trip_rounds=3, shell_runs=10
    )
