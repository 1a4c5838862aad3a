"""Pipelines with remote stages, against the suite's own sshd (`cuprum.remote`).

Mixed local and remote stages, slow readers of a remote stage, large
transfers, the session limit, and uvloop. Shared fixtures and helpers:
tests/unit/remote_helpers.py.
"""

from __future__ import annotations

import hashlib
import os
import random
import sys
import threading

import anyio
import pytest

from cuprum import CAT, ECHO, HEAD, SHA256SUM, YES, ExecutionContext, sh, unsafe
from cuprum.remote import SSHHost
from devtools.loopback_sshd import ALIAS, SshServer
from tests.helpers import LeakChecker
from tests.unit import remote_helpers
from tests.unit.remote_helpers import GRACE, live, remote, running, sleepers, until

# Fixtures shared by the remote test files: pytest finds them by these names.
anyio_backend = remote_helpers.anyio_backend
host = remote_helpers.host
private_tempdir = remote_helpers.private_tempdir
sshd_server = remote_helpers.sshd_server


# --- pipelines -------------------------------------------------------------------------


async def test_mixed_pipeline(host: SSHHost, cuprum_stream_backend: str) -> None:
    pipeline = (
        remote("printf", "b\\na\\nc\\n").on(host)
        | remote("sort")
        | remote("tr", "a-z", "A-Z").on(host)
        | sh.make(CAT)()
    )
    result = await pipeline.run(check=True)
    assert result.stdout == "A\nB\nC\n"
    assert [s.host for s in result.stages] == [ALIAS, None, ALIAS, None]


async def test_yes_into_head_both_remote(host: SSHHost, cuprum_stream_backend: str) -> None:
    word = f"cuprum-yes-{random.randrange(10**9)}"
    with anyio.fail_after(30):
        result = await (sh.make(YES)(word).on(host) | sh.make(HEAD)("-n", "1").on(host)).run()
    assert result.ok, result
    assert result.stdout == f"{word}\n"
    # 141: SIGPIPE reported; 143/137: cuprum ended it after head was done
    # (the master may drop the report once nobody reads the stdout).
    assert result.stages[0].exit_code in (141, 143, 137)
    assert await until(lambda: not live(["yes", word]), 2)


async def test_remote_failure_fails_the_pipeline(host: SSHHost, cuprum_stream_backend: str) -> None:
    result = await (sh.make(YES)() | remote("sh", "-c", "exit 3").on(host)).run()
    assert not result.ok
    assert result.failure_index == 1
    assert result.stages[1].exit_code == 3


# Reads nothing for a while (longer than the whole linger of a remote stage
# with cancel_grace=0.1), then everything.
SLOW_READER = """
import sys, time
time.sleep(1.5)
print(len(sys.stdin.buffer.read()))
"""


async def test_a_slow_local_reader_gets_every_byte_of_a_remote_stage(
    host: SSHHost, cuprum_stream_backend: str
) -> None:
    # The remote command exits long before its output has been read: the
    # master must be let deliver the rest, not be cut off after cancel_grace.
    size = 4_000_000
    reader = unsafe.dynamic([sys.executable, "-c", SLOW_READER])
    pipeline = remote("head", "-c", str(size), "/dev/zero").on(host) | reader
    result = await pipeline.run(context=ExecutionContext(cancel_grace=0.1), check=True)
    assert result.stdout == f"{size}\n"


async def test_a_slow_reader_of_open_stderr_gets_every_byte(host: SSHHost) -> None:
    size = 3_000_000
    cmd = remote("sh", "-c", f"head -c {size} /dev/zero >&2").on(host)
    got = 0
    async with cmd.open(
        stdout=False, stderr=True, context=ExecutionContext(cancel_grace=0.1)
    ) as proc:
        assert proc.stderr is not None
        await anyio.sleep(1.5)  # longer than the whole linger with cancel_grace=0.1
        async for chunk in proc.stderr:
            got += len(chunk)
        assert await proc.wait() == 0
    assert got == size


async def test_lines_of_a_remote_command_read_slowly_are_all_there(host: SSHHost) -> None:
    count = 0
    context = ExecutionContext(cancel_grace=0.2)
    async for _ in remote("seq", "200000").on(host).lines(context=context):
        count += 1
        if count % 20000 == 0:
            await anyio.sleep(0.3)  # slower than cancel_grace between reads
    assert count == 200000


@pytest.mark.slow
async def test_256_mib_through_a_remote_cat(
    host: SSHHost, cuprum_stream_backend: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = tmp_path_factory.getbasetemp() / "remote-256.bin"
    if not path.exists():
        with path.open("wb") as handle:
            for _ in range(256):
                handle.write(os.urandom(1 << 20))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    cat = sh.make(CAT)
    result = await (cat(path) | cat().on(host) | sh.make(SHA256SUM)()).run(check=True)
    assert result.stdout is not None
    assert result.stdout.split()[0] == digest
    captured = await cat().on(host).run(stdin=path, check=True)
    assert captured.stdout_bytes is not None
    assert hashlib.sha256(captured.stdout_bytes).hexdigest() == digest


async def test_pipeline_larger_than_max_sessions_is_refused(sshd_server: SshServer) -> None:
    async with SSHHost(ALIAS, config_file=sshd_server.config, max_sessions=1) as one:
        with pytest.raises(ValueError, match="max_sessions=1"):
            await (sh.make(ECHO)("x").on(one) | sh.make(CAT)().on(one)).run()


def test_uvloop_runs_remote_pipelines_and_cancels_them(
    sshd_server: SshServer, cuprum_stream_backend: str
) -> None:
    pytest.importorskip("uvloop")

    async def scenario() -> None:
        leaks = LeakChecker()
        async with SSHHost(ALIAS, config_file=sshd_server.config) as host:
            pipeline = (
                remote("printf", "b\\na\\n").on(host) | remote("sort") | sh.make(CAT)().on(host)
            )
            result = await pipeline.run(check=True)
            assert result.stdout == "a\nb\n"
            script, groups = sleepers()
            async with anyio.create_task_group() as tg:
                tg.start_soon(
                    lambda: (
                        remote("sh", "-c", script)
                        .on(host)
                        .run(context=ExecutionContext(cancel_grace=GRACE))
                    )
                )
                assert await until(lambda: len(running(groups)) == 2, 20)
                tg.cancel_scope.cancel()
            assert await until(lambda: not running(groups), GRACE + 1)
        leaks.assert_clean()

    # In a thread of its own: this module's fixtures keep a loop running here.
    errors: list[BaseException] = []

    def in_thread() -> None:
        try:
            anyio.run(scenario, backend="asyncio", backend_options={"use_uvloop": True})
        except BaseException as exc:  # re-raised below
            errors.append(exc)

    thread = threading.Thread(target=in_thread)
    thread.start()
    thread.join(60)
    assert not thread.is_alive()
    if errors:
        raise errors[0]
