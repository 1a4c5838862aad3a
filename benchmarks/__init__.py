"""cuprum benchmark suite: ``make bench`` (full) and ``make bench-quick``.

Every figure is measured next to its reference in the same run, interleaved
(candidate, reference, candidate, reference, ...), repeated, and reported as
min and median with the ratio to the reference. Progress goes to stderr, the
table to stdout, and everything (samples included) to JSON in
``benchmarks/results/<timestamp>.json``.

How cuprum is timed: each sample is one fresh ``anyio.run`` (a new event
loop, new worker threads), and the clock runs inside the coroutine, around
the awaited call only, so loop start-up is not counted. Spawn latency is
timed per batch (one ``anyio.run`` for N spawns) and reported per spawn.
References are timed the same way (``subprocess.run`` around the call,
``anyio.run_process`` inside its own fresh loop). The stream backend is
switched with ``CUPRUM_STREAM_BACKEND`` and ``clear_backend_cache()``.

Ratios are ``reference time / candidate time`` (> 1: cuprum is faster),
taken as the median of the per-pair ratios (each candidate sample against
the reference sample measured right after it), which cancels out most of the
slow drift of a shared machine. Work never runs in parallel with other work
of this script (the machine has 2 cores).

Remote rows (section 7) start a private sshd on 127.0.0.1 with
``devtools/loopback_sshd.run_sshd`` and connect to it with
``cuprum.remote.SSHHost`` (one ControlMaster per sample, its connect time
reported apart). They compare the same work with and without ``.on(host)``
and report remote / local; without ``/usr/sbin/sshd`` they are skipped with
the reason. No timing is asserted.

The map: `harness` (timing, interleaving, medians, report rows),
`payloads` (the files read), `scenarios` (one module per section and the
registry `SCENARIOS`), `report` (table, targets, JSON), `cli` (the command
line). Run it with ``python benchmarks/run.py [--quick]`` or
``python -m benchmarks [--quick]`` from the repository root.
"""
