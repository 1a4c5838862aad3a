"""10. A fleet of loopback sshds against asyncssh: cold connect, fan-out, 200 commands.

``hosts`` sshd processes on 127.0.0.1 (one process per host, each on its own
port; `benchmarks.loopback.loopback_fleet`), logged in with the fair login.
One sample is a fresh event loop that: connects every host at once and runs
``uname -r`` once on each (cold); runs ``uname -r`` once per host at once
``warm`` times (warm fan-out, median); runs ``commands`` commands spread
round-robin over the hosts, at most 8 at once per host (cuprum: ``SSHHost``'s
``max_sessions=8`` and ``run_concurrent``; asyncssh: a semaphore of 8 per
connection), ``reps`` times. cuprum enters the hosts concurrently
(``cuprum.remote.connect_all`` where it exists, else one task per host in a
task group). Each cuprum sample is paired with an asyncssh sample.
"""

from __future__ import annotations

import time
from typing import Any

from benchmarks.harness import Row, Versus, alternate, check, log, loop_run, median
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
from benchmarks.remote_rows import client_env, ms_row, skipped, unavailable

TITLE = (
    "10. Fleet of loopback sshds vs asyncssh, `uname -r`, fair login"
    " (ratio = cuprum / asyncssh, per round: lower is better)"
)
SCENARIO = "fleet"
TARGET_FLEET = 1.5  # warm fan-out and N commands over the fleet: wall <= 1.5 x asyncssh's
PER_HOST = 8  # sessions at once per host, for both clients

Sample = dict[str, Any]


def asyncssh_fleet(
    fleet: Fleet, warm: int, commands: int, reps: int, out: list[Sample]
) -> list[float]:
    import asyncio

    n = len(fleet.ports)

    async def go() -> Sample:
        start = time.perf_counter()
        conns = await asyncio.gather(*(asyncssh_connect(fleet, i) for i in range(n)))
        try:
            first = await asyncio.gather(*(c.run("uname -r", check=True) for c in conns))
            cold = time.perf_counter() - start
            check(len({r.stdout for r in first}) == 1, "uname -r differs")
            gates = [asyncio.Semaphore(PER_HOST) for _ in conns]

            async def one(i: int) -> None:
                async with gates[i]:
                    await conns[i].run("uname -r", check=True)

            fan: list[float] = []
            for _ in range(warm):
                t = time.perf_counter()
                await asyncio.gather(*(one(i) for i in range(n)))
                fan.append(time.perf_counter() - t)
            walls, cpus, servers = [], [], []
            for _ in range(reps):
                cpu0, srv0, t = own_cpu(), server_cpu(fleet.pids), time.perf_counter()
                await asyncio.gather(*(one(k % n) for k in range(commands)))
                walls.append(time.perf_counter() - t)
                cpus.append(own_cpu() - cpu0)
                servers.append(server_cpu(fleet.pids) - srv0)
        finally:
            for c in conns:
                c.close()
            await asyncio.gather(*(c.wait_closed() for c in conns))
        return {
            "cold": cold,
            "fan": median(fan),
            "wall": median(walls),
            "cpu": median(cpus),
            "server": median(servers),
        }

    sample = loop_run("asyncio", go)
    out.append(sample)
    return [sample["cold"]]


def cuprum_fleet(
    fleet: Fleet, loop: str, warm: int, commands: int, *, reps: int, out: list[Sample]
) -> list[float]:
    from cuprum import Program, ProgramCatalogue, ProjectSettings, run_concurrent, sh

    uname_program = Program("uname")
    catalogue = ProgramCatalogue(
        projects=(ProjectSettings(name="bench", programs=(uname_program,)),)
    )
    uname = sh.make(uname_program, catalogue=catalogue)("-r")
    n = len(fleet.ports)

    async def go() -> Sample:
        start = time.perf_counter()
        async with cuprum_hosts(fleet, n, max_sessions=PER_HOST) as hosts:
            cmds = [uname.on(h) for h in hosts]
            first = await run_concurrent(cmds, limit=n)
            cold = time.perf_counter() - start
            check(all(r.ok for r in first), "uname -r failed")
            check(len({r.stdout for r in first}) == 1, "uname -r differs")
            fan: list[float] = []
            for _ in range(warm):
                t = time.perf_counter()
                results = await run_concurrent(cmds, limit=n)
                fan.append(time.perf_counter() - t)
                check(all(r.ok for r in results), "uname -r failed")
            many = [uname.on(hosts[k % n]) for k in range(commands)]
            pids = master_pids(hosts)
            walls, cpus, masters, servers = [], [], [], []
            for _ in range(reps):
                cpu0, m0, srv0 = own_cpu(), sum(map(cpu_of, pids)), server_cpu(fleet.pids)
                t = time.perf_counter()
                results = await run_concurrent(many, limit=PER_HOST * n)
                walls.append(time.perf_counter() - t)
                cpus.append(own_cpu() - cpu0)
                masters.append(sum(map(cpu_of, pids)) - m0)
                servers.append(server_cpu(fleet.pids) - srv0)
                check(all(r.ok for r in results), "uname -r failed")
        return {
            "cold": cold,
            "fan": median(fan),
            "wall": median(walls),
            "cpu": median([c + m for c, m in zip(cpus, masters, strict=True)]),
            "process_cpu": median(cpus),
            "master_cpu": median(masters),
            "server": median(servers),
        }

    with client_env(None):
        sample = loop_run(loop, go)
    out.append(sample)
    return [sample["cold"]]


def bench_fleet(*, hosts: int, rounds: int, warm: int, commands: int, reps: int) -> list[Row]:
    log(f"\n{SCENARIO}: {hosts} loopback sshds, `uname -r`, {commands} commands, vs asyncssh")
    reason = unavailable()
    if reason is not None:
        return skipped(SCENARIO, reason)
    ref: dict[str, list[Sample]] = {"asyncio": [], "trio": []}
    cand: dict[str, list[Sample]] = {"asyncio": [], "trio": []}
    with loopback_fleet(hosts) as fleet:
        log(f"  login {fleet.login.text}; sshd pids {', '.join(map(str, fleet.pids))}")
        pairs = [
            Versus(
                f"{hosts} hosts cuprum {loop} (cold)",
                lambda lp=loop: cuprum_fleet(fleet, lp, warm, commands, reps=reps, out=cand[lp]),
                lambda lp=loop: asyncssh_fleet(fleet, warm, commands, reps, ref[lp]),
            )
            for loop in ("asyncio", "trio")
        ]
        alternate("fleet", pairs, rounds)
    helper = connect_helper()
    common = {"hosts": hosts, "login": fleet.login.text, "entered_with": helper}
    rows: list[Row] = []
    what = [
        ("cold", f"cold: connect {hosts} + 1 cmd each", "s", None, "cold"),
        ("fan", f"warm fan-out, {hosts} cmds at once", "ms", TARGET_FLEET, "fan-out"),
        ("wall", f"{commands} cmds over {hosts} hosts: wall", "s", TARGET_FLEET, "many wall"),
        ("cpu", f"{commands} cmds over {hosts}: CPU/cmd", "ms", None, "many cpu"),
        ("server", f"{commands} cmds over {hosts}: sshd CPU/cmd", "ms", None, "many server cpu"),
    ]
    every_ref = [s for loop in ref for s in ref[loop]]
    for key, label, unit, target, kind in what:
        scale = 1 / commands if key in {"cpu", "server"} else 1.0
        rows.append(
            ms_row(
                f"{label}, asyncssh",
                [s[key] * scale for s in every_ref],
                scenario=SCENARIO,
                unit=unit,
                kind=kind,
                **common,
            )
        )
        for loop in ("asyncio", "trio"):
            c, r = cand[loop], ref[loop]
            extra: dict[str, Any] = {}
            if key == "cpu":
                extra = {
                    "cpu_is": "client: this process + reaped children + the ControlMasters",
                    "process_cpu_per_command_ms": [s["process_cpu"] / commands * 1e3 for s in c],
                    "master_cpu_per_command_ms": [s["master_cpu"] / commands * 1e3 for s in c],
                }
            rows.append(
                ms_row(
                    f"{label}, cuprum {loop}",
                    [s[key] * scale for s in c],
                    ref_label="asyncssh",
                    ref=[s[key] * scale for s in r],
                    ratios=[a[key] / b[key] for a, b in zip(c, r, strict=True)],
                    target=target,
                    scenario=SCENARIO,
                    unit=unit,
                    kind=kind,
                    **common,
                    **extra,
                )
            )
    log(f"  cuprum entered the {hosts} hosts with {helper}")
    return rows


def run(payloads: Payloads, quick: bool) -> list[Row]:
    del payloads
    if quick:
        return bench_fleet(hosts=8, rounds=1, warm=3, commands=100, reps=1)
    return bench_fleet(hosts=16, rounds=3, warm=5, commands=200, reps=3)
