"""Rows and switches shared by the remote benchmark scenarios (one host, fleet)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from benchmarks.harness import Row, log, median, p90
from devtools.loopback_sshd import missing_reason

SCENARIO = "onehost"


def skipped(scenario: str, reason: str) -> list[Row]:
    """A row the report prints (the generic table needs one sample)."""
    log(f"  skipped: {reason}")
    return [
        Row(
            scenario,
            f"skipped: {reason}",
            "ms",
            [float("nan")],
            extra={"kind": "skipped", "reason": reason},
        )
    ]


def unavailable() -> str | None:
    reason = missing_reason()
    if reason is not None:
        return reason
    try:
        import asyncssh  # noqa: F401
    except ImportError:
        return "asyncssh is not installed (make bench installs the `bench` group)"
    return None


@contextlib.contextmanager
def client_env(client: str | None) -> Iterator[None]:
    """``CUPRUM_REMOTE_CLIENT`` for the block (None: unset)."""
    old = os.environ.get("CUPRUM_REMOTE_CLIENT")
    if client is None:
        os.environ.pop("CUPRUM_REMOTE_CLIENT", None)
    else:
        os.environ["CUPRUM_REMOTE_CLIENT"] = client
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("CUPRUM_REMOTE_CLIENT", None)
        else:
            os.environ["CUPRUM_REMOTE_CLIENT"] = old


def ms_row(
    label: str,
    samples: list[float],
    *,
    ref_label: str | None = None,
    ref: list[float] | None = None,
    ratios: list[float] | None = None,
    target: float | None = None,
    scenario: str = SCENARIO,
    unit: str = "ms",
    **extra: Any,
) -> Row:
    """A row in ms (or s) per sample; ``ratios`` are cuprum / asyncssh per round."""
    scale = 1e3 if unit == "ms" else 1.0
    ratio = median(ratios) if ratios else None
    if target is not None and ratio is not None:
        text, ok = f"<= {target:.1f}x", ratio <= target
    else:
        text, ok = ("(reference)" if ref_label is None else "(info)"), None
    return Row(
        scenario=scenario,
        label=label,
        unit=unit,
        samples=[x * scale for x in samples],
        ref_label=ref_label,
        # A reference row shows its own median in the "ref median" column.
        ref_samples=[x * scale for x in (samples if ref is None else ref)],
        ratio=ratio,
        target=text,
        ok=ok,
        extra={
            "ratio_is": "cuprum / asyncssh (median per round), lower is better",
            "p90": p90(samples) * scale,
            **extra,
        },
    )


async def time_true(host: Any, count: int) -> list[float]:
    """``count`` sequential runs of ``true`` (on ``host``, or here for None), after one untimed."""
    import time

    from benchmarks.harness import check
    from cuprum import TRUE, sh

    cmd = sh.make(TRUE)()
    cmd = cmd if host is None else cmd.on(host)
    check((await cmd.run()).ok, "true failed")  # warm-up, not timed
    times: list[float] = []
    for _ in range(count):
        start = time.perf_counter()
        result = await cmd.run()
        times.append(time.perf_counter() - start)
        check(result.ok, f"true failed: {result!r}")
    return times
