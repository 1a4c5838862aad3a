"""A short end-to-end run of real pipelines on asyncio and trio, both backends.

Run it with ``make demo`` (which builds everything first).
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import time

import anyio

import cuprum
from cuprum import CAT, HEAD, SHA256SUM, SLEEP, WC, YES, ExecutionContext, TimeoutExpired, sh
from cuprum.streams import clear_backend_cache, get_stream_backend

PAYLOAD = 64 << 20


async def demo(path: str, digest: str) -> None:
    """Run a few pipelines on the current loop and backend, printing results."""
    cat, wc = sh.make(CAT), sh.make(WC)

    started = time.perf_counter()
    result = await (cat(path) | cat() | cat() | sh.make(SHA256SUM)()).run(check=True)
    seconds = time.perf_counter() - started
    ok = result.stdout is not None and result.stdout.split()[0] == digest
    print(
        f"    cat F | cat | cat | sha256sum   {PAYLOAD >> 20} MiB in {seconds * 1000:6.0f} ms "
        f"({PAYLOAD / seconds / 1e6:7.0f} MB/s), digest {'matches' if ok else 'WRONG'}"
    )

    started = time.perf_counter()
    result = await (cat(path) | cat() | cat() | wc("-c")).run(check=True)
    seconds = time.perf_counter() - started
    print(
        f"    cat F | cat | cat | wc -c       {PAYLOAD >> 20} MiB in {seconds * 1000:6.0f} ms "
        f"({PAYLOAD / seconds / 1e6:7.0f} MB/s), counted {(result.stdout or '').strip()} bytes"
    )

    result = await (sh.make(YES)() | sh.make(HEAD)("-n", "3")).run()
    print(
        f"    yes | head -n 3                 stdout={result.stdout!r} ok={result.ok} "
        f"(yes exited {result.stages[0].exit_code}: SIGPIPE, excused)"
    )

    result = await (cat() | wc("-l")).run(stdin="one\ntwo\nthree\n")
    print(f"    stdin | cat | wc -l             {result.stdout.strip() if result.stdout else ''}")

    started = time.perf_counter()
    try:
        await sh.make(SLEEP)("30").run(context=ExecutionContext(timeout=0.2, cancel_grace=0.2))
    except TimeoutExpired as exc:
        print(
            f"    sleep 30 with timeout 0.2 s     TimeoutExpired after "
            f"{time.perf_counter() - started:.2f} s, child reaped with "
            f"exit code {getattr(exc.result, 'exit_code', None)}"
        )

    started = time.perf_counter()
    with anyio.move_on_after(0.3):
        await (cat("/dev/zero") | cat() | wc("-c")).run()
    elapsed = time.perf_counter() - started
    print(f"    cat /dev/zero | cat | wc -c     cancelled after {elapsed:.2f} s, children reaped")


def main() -> int:
    """Run the demo on every loop x backend available."""
    print(f"cuprum {cuprum.__version__}: pipelines on asyncio and trio, both stream backends\n")
    with tempfile.NamedTemporaryFile(delete=False) as handle:
        for _ in range(PAYLOAD >> 20):
            handle.write(os.urandom(1 << 20))
        path = handle.name
    try:
        with open(path, "rb") as check:
            digest = hashlib.file_digest(check, "sha256").hexdigest()
        backends = ["python", "rust"]
        for loop in ("asyncio", "trio"):
            for backend in backends:
                os.environ["CUPRUM_STREAM_BACKEND"] = backend
                clear_backend_cache()
                try:
                    resolved = get_stream_backend()
                except cuprum.StreamBackendUnavailable as exc:
                    print(f"[{loop} x {backend}] skipped: {exc}\n")
                    continue
                print(f"[{loop} x {resolved}]")
                anyio.run(demo, path, digest, backend=loop)
                print()
    finally:
        os.unlink(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
