"""The in-process client of the ControlMaster protocol against a scripted master.

A real master only ever answers correctly; what cuprum does with a wrong
protocol version, a refusal, an unknown message or a master that hangs up
is reached here with a fake master on a Unix socket (the happy path and the
kill protocol run against a real sshd in the other remote tests).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import anyio
import pytest

from cuprum.remote._mux import MuxError, alive_check, open_session

HELLO, NEW_SESSION, ALIVE_CHECK = 0x1, 0x10000002, 0x10000004
S_FAILURE, S_EXIT, S_ALIVE, S_OPENED = 0x80000003, 0x80000004, 0x80000005, 0x80000006


def u32(value: int) -> bytes:
    return struct.pack(">I", value)


def packet(*fields: bytes) -> bytes:
    body = b"".join(fields)
    return u32(len(body)) + body


def read_packet(conn: socket.socket) -> bytes:
    head = conn.recv(4, socket.MSG_WAITALL)
    (size,) = struct.unpack(">I", head)
    return conn.recv(size, socket.MSG_WAITALL)


class FakeMaster:
    """Accepts one connection, records what the client sent, answers ``replies``."""

    def __init__(self, path: Path, answer: Callable[[socket.socket], None]) -> None:
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(path))
        self.server.listen(1)
        self.answer = answer
        self.received: list[bytes] = []
        self.fds: list[int] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.server.accept()
        with conn:
            self.received.append(read_packet(conn))  # the client's hello
            self.received.append(read_packet(conn))  # its request
            (kind,) = struct.unpack_from(">I", self.received[-1])
            if kind == NEW_SESSION:
                for _ in range(3):
                    _, fds, _, _ = socket.recv_fds(conn, 1, 1)
                    self.fds += fds
            # The client may hang up first (a reply it refused): a broken
            # pipe or a reset here is its doing, not the fake's.
            with contextlib.suppress(OSError):
                self.answer(conn)
                conn.recv(1)  # until the client closes

    def close(self) -> None:
        self.thread.join(5)
        self.server.close()
        for fd in self.fds:
            os.close(fd)


@pytest.fixture
def master(tmp_path: Path) -> Iterator[Callable[[Callable[[socket.socket], None]], FakeMaster]]:
    made: list[FakeMaster] = []

    def make(answer: Callable[[socket.socket], None]) -> FakeMaster:
        made.append(FakeMaster(tmp_path / "ctl", answer))
        return made[-1]

    yield make
    for fake in made:
        fake.close()


def hello(version: int = 4) -> bytes:
    return packet(u32(HELLO), u32(version))


async def session_status(path: str) -> tuple[int, list[str]]:
    failures: list[str] = []
    read, write = os.pipe()
    try:
        session = open_session(
            path, "echo 'hi there'", (read, write, write), master_pid=4242,
            on_failure=failures.append,
        )  # fmt: skip
        with anyio.fail_after(10):
            code = await session.wait()
        session.close()
    finally:
        os.close(read)
        os.close(write)
    assert session.pid == 4242
    return code, failures


async def test_a_session_sends_its_command_and_three_descriptors_and_reads_the_exit(
    master: Callable[..., FakeMaster], tmp_path: Path
) -> None:
    def answer(conn: socket.socket) -> None:
        conn.sendall(
            hello() + packet(u32(S_OPENED), u32(1), u32(7)) + packet(u32(S_EXIT), u32(7), u32(3))
        )
        conn.shutdown(socket.SHUT_WR)  # as a master does once the output is delivered

    fake = master(answer)
    code, failures = await session_status(str(tmp_path / "ctl"))
    assert (code, failures) == (3, [])
    assert fake.received[0] == u32(HELLO) + u32(4)
    request = fake.received[1]
    assert request.startswith(u32(NEW_SESSION) + u32(1))
    assert request.endswith(u32(len(b"echo 'hi there'")) + b"echo 'hi there'")
    assert len(fake.fds) == 3


@pytest.mark.parametrize(
    ("replies", "reason"),
    [
        (hello(5), "protocol version 5, cuprum speaks 4"),
        (packet(u32(S_OPENED), u32(1), u32(7)), "no hello but message 0x80000006"),
        (
            hello() + packet(u32(S_FAILURE), u32(1), u32(9) + b"too many!"),
            "refused the session: too many!",
        ),
        (hello() + packet(u32(0x80000099), u32(1)), "unexpected message 0x80000099"),
        (hello() + packet(u32(S_OPENED), u32(1), u32(7)), "ended the session without a status"),
        (hello() + u32(1 << 30), "a reply of 1073741824 bytes"),
    ],
    ids=["version", "no-hello", "refused", "unknown", "hung-up", "huge"],
)
async def test_an_unexpected_reply_ends_the_session_with_a_reason(
    master: Callable[..., FakeMaster], tmp_path: Path, replies: bytes, reason: str
) -> None:
    def answer(conn: socket.socket) -> None:
        conn.sendall(replies)
        conn.shutdown(socket.SHUT_WR)

    master(answer)
    code, failures = await session_status(str(tmp_path / "ctl"))
    assert code == 255
    assert len(failures) == 1
    assert reason in failures[0]


async def test_the_alive_check_returns_the_masters_pid(
    master: Callable[..., FakeMaster], tmp_path: Path
) -> None:
    fake = master(lambda conn: conn.sendall(hello() + packet(u32(S_ALIVE), u32(1), u32(31337))))
    assert await alive_check(str(tmp_path / "ctl"), 10) == 31337
    assert fake.received[1] == u32(ALIVE_CHECK) + u32(1)


async def test_the_alive_check_refuses_another_protocol_version(
    master: Callable[..., FakeMaster], tmp_path: Path
) -> None:
    master(lambda conn: conn.sendall(hello(3)))
    with pytest.raises(MuxError, match="protocol version 3"):
        await alive_check(str(tmp_path / "ctl"), 10)


async def test_an_invalid_remote_client_choice_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from cuprum.remote import SSHHost

    monkeypatch.setenv("CUPRUM_REMOTE_CLIENT", "telnet")
    with pytest.raises(ValueError, match="CUPRUM_REMOTE_CLIENT='telnet' is not valid"):
        async with SSHHost("nowhere.invalid"):
            pass


async def test_ending_a_session_another_task_waits_on_wakes_it_and_closes_the_socket(
    master: Callable[..., FakeMaster], tmp_path: Path
) -> None:
    master(lambda conn: conn.sendall(hello() + packet(u32(S_OPENED), u32(1), u32(7))))
    read, write = os.pipe()
    try:
        session = open_session(
            str(tmp_path / "ctl"), "sleep 9", (read, write, write), master_pid=1,
            on_failure=lambda _: None,
        )  # fmt: skip
    finally:
        os.close(read)
        os.close(write)
    sock = session._sock  # pyright: ignore[reportPrivateUsage]
    assert sock is not None
    codes: list[int] = []
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:

            async def waiter() -> None:
                codes.append(await session.wait())

            tg.start_soon(waiter)
            while session._waiter is None:  # pyright: ignore[reportPrivateUsage]
                await anyio.sleep(0)
            await session.terminate(1.0)
            assert sock.fileno() >= 0  # the waiter closes it, after its wait
    assert codes == [-signal.SIGTERM]
    assert sock.fileno() == -1
