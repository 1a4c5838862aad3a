"""6. Peak RSS growth during a pipeline with capture=False, measured in a child process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from benchmarks.harness import BACKENDS, LOOPS, TARGET_RSS, GiB, MiB, Row, check, log, size_name
from benchmarks.payloads import Payloads

TITLE = "6. Peak RSS growth during a pipeline, capture=False"

RSS_CHILD = textwrap.dedent(
    """
    import gc, json, os, sys, time
    import anyio
    from cuprum import CAT, WC, sh

    path, pumps, loop = sys.argv[1], int(sys.argv[2]), sys.argv[3]

    def status(name):
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(name + ":"):
                    return int(line.split()[1]) * 1024
        return -1

    def pipeline(p):
        cat, wc = sh.make(CAT), sh.make(WC)
        pipe = cat(p)
        for _ in range(pumps - 1):
            pipe = pipe | cat()
        return pipe | wc("-c")

    async def run(p):
        start = time.perf_counter()
        result = await pipeline(p).run(capture=False)
        assert result.ok, result
        return time.perf_counter() - start

    kw = {"backend": "asyncio", "backend_options": {"use_uvloop": True}} if loop == "uvloop" \\
        else {"backend": loop}
    anyio.run(run, "/etc/hostname", **kw)  # warm up: imports, thread pools
    gc.collect()
    try:  # reset the high-water mark to the current RSS (Linux >= 4.0)
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        reset = True
    except OSError:
        reset = False
    before_hwm, before_rss = status("VmHWM"), status("VmRSS")
    seconds = anyio.run(run, path, **kw)
    after_hwm = status("VmHWM")
    print(json.dumps({"before_hwm": before_hwm, "before_rss": before_rss,
                      "after_hwm": after_hwm, "seconds": seconds, "reset": reset}))
    """
)


def bench_rss(
    payloads: Payloads, size: int, pumps: int, loops: tuple[str, ...] = LOOPS
) -> list[Row]:
    path = str(payloads.random(size))
    log(f"\npeak RSS growth: {pumps}-pump pipeline of {size_name(size)}, capture=False")
    rows = []
    for loop in loops:
        for backend in BACKENDS:
            env = {**os.environ, "CUPRUM_STREAM_BACKEND": backend}
            proc = subprocess.run(
                [sys.executable, "-c", RSS_CHILD, path, str(pumps), loop],
                capture_output=True,
                text=True,
                env=env,
                check=False,
            )
            check(proc.returncode == 0, f"RSS child failed: {proc.stderr}")
            data = json.loads(proc.stdout)
            base = data["before_hwm"] if data["reset"] else data["before_rss"]
            growth = data["after_hwm"] - base
            log(
                f"  {loop}/{backend}: VmHWM {base / MiB:.1f} -> {data['after_hwm'] / MiB:.1f} MiB"
                f" (+{growth / MiB:.1f} MiB), {size / data['seconds'] / 1e6:,.0f} MB/s"
            )
            rows.append(
                Row(
                    scenario="rss",
                    label=f"{size_name(size)} {pumps}p {loop}/{backend}",
                    unit="bytes",
                    samples=[float(growth)],
                    target=f"< {TARGET_RSS // MiB} MiB",
                    ok=growth < TARGET_RSS,
                    extra={
                        **data,
                        "payload": size,
                        "pumps": pumps,
                        "loop": loop,
                        "backend": backend,
                    },
                )
            )
    return rows


def run(payloads: Payloads, quick: bool) -> list[Row]:
    if quick:
        return bench_rss(payloads, 256 * MiB, 3, ("asyncio",))
    return bench_rss(payloads, GiB, 3)
