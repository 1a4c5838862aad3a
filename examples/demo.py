"""A short end-to-end run of real pipelines on asyncio and trio, both backends.

With OpenSSH's sshd installed, it also runs commands on a "remote" host: a
private sshd on 127.0.0.1, started the way the test suite starts its own.

Run it with ``make demo`` (which builds everything first).
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path

import anyio

import cuprum
from cuprum import (
    CAT,
    ECHO,
    HEAD,
    SHA256SUM,
    SLEEP,
    WC,
    YES,
    ExecutionContext,
    TimeoutExpired,
    sh,
)
from cuprum.remote import SSHHost
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


async def remote_demo(config: str, alias: str, path: str, digest: str) -> None:
    """The same kind of runs on a remote host (a private sshd on 127.0.0.1)."""
    cat = sh.make(CAT)
    started = time.perf_counter()
    async with SSHHost(alias, config_file=config) as host:
        print(f"    connected to {host.destination} in {time.perf_counter() - started:.2f} s")
        result = await sh.make(ECHO)("hello from", "the host").on(host).run(check=True)
        print(f"    echo on the host               {result.stdout!r} host={result.host!r}")

        started = time.perf_counter()
        result = await (cat(path) | cat().on(host) | sh.make(SHA256SUM)()).run(check=True)
        seconds = time.perf_counter() - started
        ok = result.stdout is not None and result.stdout.split()[0] == digest
        print(
            f"    cat F | <host> cat | sha256sum  {PAYLOAD >> 20} MiB in {seconds * 1000:6.0f} ms "
            f"({PAYLOAD / seconds / 1e6:5.0f} MB/s), digest {'matches' if ok else 'WRONG'}"
        )

        started = time.perf_counter()
        try:
            await (
                sh.make(SLEEP)("300")
                .on(host)
                .run(context=ExecutionContext(timeout=0.5, cancel_grace=0.2))
            )
        except TimeoutExpired as exc:
            print(
                f"    <host> sleep 300, timeout 0.5  TimeoutExpired after "
                f"{time.perf_counter() - started:.2f} s, remote group ended "
                f"(exit code {getattr(exc.result, 'exit_code', None)})"
            )
    print("    left the host: master stopped, socket removed")


def run_remote_demo(path: str, digest: str) -> None:
    """Start a private sshd (as the test suite does) and run `remote_demo` on both loops."""
    # The launcher lives in devtools/ at the repository root, beside this directory.
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from devtools.loopback_sshd import ALIAS, missing_reason, run_sshd  # noqa: PLC0415

    reason = missing_reason()
    if reason is not None:
        print(f"[remote] skipped: {reason}\n")
        return
    with tempfile.TemporaryDirectory() as directory, run_sshd(Path(directory)) as server:
        for loop in ("asyncio", "trio"):
            print(f"[remote on {loop}: private sshd on 127.0.0.1:{server.port}]")
            anyio.run(remote_demo, str(server.config), ALIAS, path, digest, backend=loop)
            print()


def main() -> int:
    """Run the demo on every loop x backend available, then on a remote host."""
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
        os.environ.pop("CUPRUM_STREAM_BACKEND", None)
        clear_backend_cache()
        run_remote_demo(path, digest)
    finally:
        os.unlink(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
