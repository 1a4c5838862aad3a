"""9. One host against asyncssh: per-command latency and a 200-command burst.

Everything logs in as the fair login of `benchmarks.loopback` (a user whose
shell is ``/bin/sh`` when run as root), against a loopback sshd of
`benchmarks.loopback.loopback_fleet` (``MaxSessions 64``, so 16 sessions at
once fit on one connection for every client). Each sample is a fresh event
loop that connects (untimed), runs one untimed warm-up, then times; every
candidate is paired with an asyncssh sample right after it (`alternate`),
and the ratio is the median over rounds of cuprum / asyncssh. No timing is
asserted.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable

from benchmarks.harness import Row, Versus, alternate, check, flat, log, loop_run, median
from benchmarks.loginshell import local_shell_true, local_wrapper_true
from benchmarks.loopback import (
    Fleet,
    asyncssh_connect,
    connect_helper,
    cpu_of,
    cuprum_hosts,
    loopback_fleet,
    master_pids,
    own_cpu,
    server_cpu,
)
from benchmarks.payloads import Payloads
from benchmarks.remote_rows import client_env, ms_row, skipped, time_true, unavailable

TITLE = (
    "9. One host vs asyncssh, fair login (shell /bin/sh): `true` one at a time; burst = 200 x"
    " `true`, 16 at once\n   (ratio = cuprum / asyncssh, per round: lower is better)"
)
SCENARIO = "onehost"
TARGET_LATENCY = 1.5  # cuprum per-command time <= 1.5 x asyncssh's
TARGET_BURST_CPU = 2.0  # cuprum client CPU per command <= 2 x asyncssh's
TRUE_PROGRAM = shutil.which("true") or "/usr/bin/true"


# --------------------------------------------------------------------------
# per-command latency


def asyncssh_true(fleet: Fleet, count: int, command: str = "true") -> list[float]:
    """``command`` through one asyncssh connection (``true`` is a builtin of the login shell)."""

    async def go() -> list[float]:
        conn = await asyncssh_connect(fleet, 0)
        async with conn:
            await conn.run(command, check=True)
            times: list[float] = []
            for _ in range(count):
                start = time.perf_counter()
                await conn.run(command, check=True)
                times.append(time.perf_counter() - start)
        return times

    return loop_run("asyncio", go)


def cuprum_true(fleet: Fleet, count: int, loop: str, client: str | None) -> list[float]:
    async def go() -> list[float]:
        async with cuprum_hosts(fleet, 1, max_sessions=16) as hosts:
            return await time_true(hosts[0], count)

    with client_env(client):
        return loop_run(loop, go)


def ssh_s_true(fleet: Fleet, count: int) -> list[float]:
    """Plain ``ssh -S <socket> host true`` through the master cuprum started."""
    from cuprum.remote._host import master_of

    async def go() -> list[float]:
        async with cuprum_hosts(fleet, 1, max_sessions=16) as hosts:
            socket_path = master_of(hosts[0]).socket
            assert socket_path is not None
            argv = ["ssh", "-F", str(fleet.config), "-S", socket_path]
            argv += ["-o", "ControlMaster=no", fleet.aliases[0], "true"]
            subprocess.run(argv, check=True, stdin=subprocess.DEVNULL)
            times: list[float] = []
            for _ in range(count):
                start = time.perf_counter()
                subprocess.run(argv, check=True, stdin=subprocess.DEVNULL)
                times.append(time.perf_counter() - start)
        return times

    return loop_run("asyncio", go)


# --------------------------------------------------------------------------
# burst


def asyncssh_burst(
    fleet: Fleet, total: int, at_once: int, out: list[dict[str, float]]
) -> list[float]:
    import asyncio

    async def go() -> dict[str, float]:
        conn = await asyncssh_connect(fleet, 0)
        async with conn:
            gate = asyncio.Semaphore(at_once)

            async def one() -> None:
                async with gate:
                    await conn.run("true", check=True)

            await asyncio.gather(*(one() for _ in range(at_once)))  # warm-up
            cpu0, srv0, start = own_cpu(), server_cpu(fleet.pids), time.perf_counter()
            await asyncio.gather(*(one() for _ in range(total)))
            wall = time.perf_counter() - start
            cpu1, srv1 = own_cpu(), server_cpu(fleet.pids)
        return {"wall": wall, "own": cpu1 - cpu0, "master": 0.0, "server": srv1 - srv0}

    result = loop_run("asyncio", go)
    out.append(result)
    return [result["wall"]]


def cuprum_burst(
    fleet: Fleet, total: int, at_once: int, loop: str, out: list[dict[str, float]]
) -> list[float]:
    from cuprum import TRUE, run_concurrent, sh

    async def go() -> dict[str, float]:
        async with cuprum_hosts(fleet, 1, max_sessions=at_once) as hosts:
            cmd = sh.make(TRUE)().on(hosts[0])
            await run_concurrent([cmd] * at_once, limit=at_once)  # warm-up
            pids = master_pids(hosts)
            cpu0, srv0 = own_cpu(), server_cpu(fleet.pids)
            master0, start = sum(map(cpu_of, pids)), time.perf_counter()
            results = await run_concurrent([cmd] * total, limit=at_once)
            wall = time.perf_counter() - start
            cpu1, master1 = own_cpu(), sum(map(cpu_of, pids))
            srv1 = server_cpu(fleet.pids)
            check(all(r.ok for r in results), "a `true` failed in the burst")
        return {
            "wall": wall,
            "own": cpu1 - cpu0,
            "master": master1 - master0,
            "server": srv1 - srv0,
        }

    with client_env(None):
        result = loop_run(loop, go)
    out.append(result)
    return [result["wall"]]


def per_round(
    cand: list[dict[str, float]],
    ref: list[dict[str, float]],
    key: Callable[[dict[str, float]], float],
) -> list[float]:
    return [key(c) / key(r) for c, r in zip(cand, ref, strict=True)]


def bench_onehost(
    *, count: int, rounds: int, total: int, at_once: int, burst_rounds: int
) -> list[Row]:
    log(f"\n{SCENARIO}: `true` x {count} sequential, and {total} at {at_once} at once, vs asyncssh")
    reason = unavailable()
    if reason is not None:
        return skipped(SCENARIO, reason)
    rows: list[Row] = []
    with loopback_fleet(1) as fleet:
        login = fleet.login
        log(f"  login: {login.text} ({login.why}); sshd pid {fleet.pids[0]}, {fleet.config}")
        asy = "asyncssh"

        def versus(label: str, cand: Callable[[], list[float]]) -> Versus:
            return Versus(label, cand, lambda: asyncssh_true(fleet, count))

        pairs = [
            versus("cuprum asyncio", lambda: cuprum_true(fleet, count, "asyncio", None)),
            versus("cuprum trio", lambda: cuprum_true(fleet, count, "trio", None)),
            versus(
                "cuprum asyncio, ssh client", lambda: cuprum_true(fleet, count, "asyncio", "ssh")
            ),
            versus("ssh -S <master> host true", lambda: ssh_s_true(fleet, count)),
            # cuprum execs a program, never a builtin: the same work through asyncssh.
            versus(f"asyncssh, {TRUE_PROGRAM}", lambda: asyncssh_true(fleet, count, TRUE_PROGRAM)),
        ]
        shell = Versus(
            f"local: wrapper + true ({login.shell_name})",
            lambda: local_wrapper_true(login, count),
            lambda: local_shell_true(login, count),
        )
        alternate("vs asyncssh, true", [*pairs, shell], rounds)

        everything = [x for p in pairs for x in flat(p.local_samples)]
        rows.append(
            ms_row(f"true: {asy} (1 connection)", everything, login=login.text, kind="latency")
        )
        for pair, target in zip(
            pairs, (TARGET_LATENCY, TARGET_LATENCY, None, None, None), strict=True
        ):
            rows.append(
                ms_row(
                    f"true: {pair.label}",
                    flat(pair.remote_samples),
                    ref_label=asy,
                    ref=flat(pair.local_samples),
                    ratios=pair.time_ratios(),
                    target=target,
                    kind="latency",
                    commands_per_sample=count,
                    login=login.text,
                )
            )
        rows.append(
            ms_row(
                f"local: sh -c true as {login.user}",
                flat(shell.local_samples),
                ref_label="(sshd's way of starting a command, here)",
                ref=flat(shell.local_samples),
                kind="login shell",
            )
        )
        wrapper = flat(shell.remote_samples)
        rows.append(
            ms_row(
                shell.label,
                wrapper,
                ref_label=f"`{login.shell} -c true`, same user, same rounds",
                ref=flat(shell.local_samples),
                kind="wrapper",
                wrapper_minus_shell_ms=(median(wrapper) - median(flat(shell.local_samples))) * 1e3,
            )
        )

        ref_data: dict[str, list[dict[str, float]]] = {}
        cand_data: dict[str, list[dict[str, float]]] = {}
        bursts = []
        for loop in ("asyncio", "trio"):
            ref_data[loop], cand_data[loop] = [], []
            bursts.append(
                Versus(
                    f"burst cuprum {loop}",
                    lambda lp=loop: cuprum_burst(fleet, total, at_once, lp, cand_data[lp]),
                    lambda lp=loop: asyncssh_burst(fleet, total, at_once, ref_data[lp]),
                )
            )
        alternate("vs asyncssh, burst", bursts, burst_rounds)

    all_ref = [d for loop in ref_data for d in ref_data[loop]]
    rows.append(ms_row("burst wall: asyncssh", [d["wall"] for d in all_ref], kind="burst wall"))
    for loop in ("asyncio", "trio"):
        cand, ref = cand_data[loop], ref_data[loop]
        rows.append(
            ms_row(
                f"burst wall: cuprum {loop}",
                [d["wall"] for d in cand],
                ref_label=asy,
                ref=[d["wall"] for d in ref],
                ratios=per_round(cand, ref, lambda d: d["wall"]),
                kind="burst wall",
            )
        )
    rows.append(
        ms_row(
            "burst client CPU/cmd: asyncssh",
            [(d["own"] + d["master"]) / total for d in all_ref],
            kind="burst cpu",
            cpu_is="this process (all threads) + its reaped children, per command",
            server_cpu_per_command_ms=[d["server"] / total * 1e3 for d in all_ref],
        )
    )
    for loop in ("asyncio", "trio"):
        cand, ref = cand_data[loop], ref_data[loop]
        rows.append(
            ms_row(
                f"burst client CPU/cmd: cuprum {loop}",
                [(d["own"] + d["master"]) / total for d in cand],
                ref_label=asy,
                ref=[(d["own"] + d["master"]) / total for d in ref],
                ratios=per_round(cand, ref, lambda d: d["own"] + d["master"]),
                target=TARGET_BURST_CPU,
                kind="burst cpu",
                cpu_is=(
                    "this process (all threads) + its reaped children + its ControlMaster"
                    " (/proc/<pid>/stat utime+stime), per command"
                ),
                process_cpu_per_command_ms=[d["own"] / total * 1e3 for d in cand],
                master_cpu_per_command_ms=[d["master"] / total * 1e3 for d in cand],
                server_cpu_per_command_ms=[d["server"] / total * 1e3 for d in cand],
            )
        )
    for loop in ("asyncio", "trio"):
        cand, ref = cand_data[loop], ref_data[loop]
        rows.append(
            ms_row(
                f"burst sshd CPU/cmd: cuprum {loop}",
                [d["server"] / total for d in cand],
                ref_label=asy,
                ref=[d["server"] / total for d in ref],
                ratios=per_round(cand, ref, lambda d: d["server"]),
                kind="burst server cpu",
                cpu_is="the sshd processes and their reaped children (shells, wrapper, true)",
            )
        )
    log(f"  {connect_helper()} entered the hosts; login {login.text}")
    return rows


def run(payloads: Payloads, quick: bool) -> list[Row]:
    del payloads
    if quick:
        return bench_onehost(count=20, rounds=2, total=200, at_once=16, burst_rounds=1)
    return bench_onehost(count=50, rounds=5, total=200, at_once=16, burst_rounds=5)
