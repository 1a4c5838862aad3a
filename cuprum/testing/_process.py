"""A fake process: a worker thread that behaves like a child on real descriptors.

The engine spawns a fake like any stage: it hands over the descriptors it
opened (`StageIo`), and the fake keeps its own duplicates, as a child
would. A worker thread writes the output, reads stdin to its end (what it
read is recorded), waits ``delay`` and exits. Supervision follows the
`ChildProcess` protocol: the exit is signalled on a pipe that the event
loop waits on (as a pidfd is for a real child), SIGTERM and SIGKILL end it
at once, a reader that went away ends it with SIGPIPE.
"""

from __future__ import annotations

import itertools
import os
import select
import signal
import threading
import time
from collections.abc import Callable
from typing import final

import anyio

from .._transport import StageIo

__all__ = ["Behaviour", "FakeChild", "Output"]

Output = bytes | Callable[[bytes], bytes]
"""What a fake writes: fixed bytes, or computed from the stdin it read."""

_PIPE_BUF = select.PIPE_BUF  # a poll()-ready pipe takes this much without blocking
# Above Linux's largest pid_max (2**22), so a fake's pid is never a real one.
_PIDS = itertools.count((1 << 22) + 1)


@final
class Behaviour:
    """What one fake does: its output, exit code and run time."""

    __slots__ = ("delay", "exit_code", "stderr", "stdout")

    def __init__(self, stdout: Output, stderr: Output, exit_code: int, delay: float) -> None:
        self.stdout: Output = stdout
        self.stderr: Output = stderr
        self.exit_code: int = exit_code
        self.delay: float = delay


class _Killed(Exception):
    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


@final
class FakeChild:
    """A fake's process, as the engine supervises it (`ChildProcess`)."""

    def __init__(
        self, behaviour: Behaviour, io: StageIo, on_exit: Callable[[bytes], None], name: str
    ) -> None:
        self.pid = next(_PIDS)
        self.started_at = time.monotonic()
        self.exited_at: float | None = None
        self.signals_sent: set[int] = set()
        self.error: BaseException | None = None  # raised by an output callable
        self._behaviour = behaviour
        self._on_exit = on_exit
        self._status: int | None = None  # set by the thread when it ends
        self._returncode: int | None = None  # visible once reaped
        self._waiter: anyio.Event | None = None
        self._fds = [os.dup(fd) for fd in (io.stdin, io.stdout, io.stderr)]
        self._kill_r, self._kill_w = os.pipe()
        self._done_r, self._done_w = os.pipe()
        for fd in (*self._fds, self._kill_r, self._kill_w, self._done_r, self._done_w):
            os.set_inheritable(fd, False)
        self._thread = threading.Thread(target=self._main, name=f"cuprum-fake {name}", daemon=True)
        self._thread.start()

    # --- the fake's own thread -------------------------------------------------

    def _main(self) -> None:
        read = bytearray()
        try:
            status = self._behave(read)
        except _Killed as killed:
            status = -killed.signum
        except (BrokenPipeError, ConnectionResetError):
            status = -signal.SIGPIPE  # as a child without a SIGPIPE handler
        except Exception as exc:  # an output callable failed: the test sees it
            self.error = exc
            status = 1
        for fd in self._fds:
            os.close(fd)
        try:
            self._on_exit(bytes(read))
        finally:
            self._status = status
            os.write(self._done_w, b"x")

    def _behave(self, read: bytearray) -> int:
        stdin, stdout, stderr = self._fds
        behaviour = self._behaviour
        fixed = not callable(behaviour.stdout) and not callable(behaviour.stderr)
        eof = False
        if not fixed:
            eof = self._read_stdin(stdin, read, until_eof=True)
        out = memoryview(_produce(behaviour.stdout, read))
        err = memoryview(_produce(behaviour.stderr, read))
        while out or err:
            ready = self._poll([(stdout, select.POLLOUT)] * bool(out)
                               + [(stderr, select.POLLOUT)] * bool(err)
                               + [(stdin, select.POLLIN)] * (not eof), None)  # fmt: skip
            if stdin in ready:
                eof = self._read_stdin(stdin, read, until_eof=False)
            if out and stdout in ready:
                out = out[os.write(stdout, out[:_PIPE_BUF]) :]
            if err and stderr in ready:
                err = err[os.write(stderr, err[:_PIPE_BUF]) :]
        if not eof:
            self._read_stdin(stdin, read, until_eof=True)
        if behaviour.delay > 0:
            self._poll([], behaviour.delay)
        return behaviour.exit_code

    def _read_stdin(self, fd: int, read: bytearray, *, until_eof: bool) -> bool:
        """Read what stdin has (to its end with ``until_eof``); True at end of file."""
        while True:
            if fd not in self._poll([(fd, select.POLLIN)], None if until_eof else 0):
                return False
            data = os.read(fd, 1 << 16)
            if not data:
                return True
            read += data
            if not until_eof:
                return False

    def _poll(self, wanted: list[tuple[int, int]], timeout: float | None) -> set[int]:
        """Wait for the descriptors (or ``timeout``); a signal ends the fake here."""
        poller = select.poll()
        for fd, events in wanted:
            poller.register(fd, events)
        poller.register(self._kill_r, select.POLLIN)
        ready = poller.poll(None if timeout is None else timeout * 1000)
        fds = {fd for fd, _ in ready}
        if self._kill_r in fds:
            raise _Killed(os.read(self._kill_r, 1)[0])
        return fds

    # --- the engine's side -----------------------------------------------------

    @property
    def returncode(self) -> int | None:
        """The exit status once reaped, negative for a signal."""
        return self._returncode

    def poll(self) -> int | None:
        """Reap the fake if it has ended."""
        if self._returncode is None and self._status is not None:
            self._thread.join()
            self._returncode = self._status
            self.exited_at = time.monotonic()
            if self._waiter is None:
                # Not while a task waits on the exit pipe: it wakes (the pipe
                # is readable) and closes it then, as `Child` does its pidfd.
                self.close()
        return self._returncode

    async def wait(self) -> int:
        """Wait for the fake to end and reap it (cancellation leaves it running)."""
        while self.poll() is None:
            if self._waiter is not None:
                await self._waiter.wait()
                continue
            self._waiter = anyio.Event()
            try:
                await anyio.wait_readable(self._done_r)
            finally:
                waiter, self._waiter = self._waiter, None
                waiter.set()
        if self._waiter is None:
            self.close()  # not while another task waits on the exit pipe
        code = self._returncode
        assert code is not None
        return code

    async def exited(self) -> None:
        """Wait for the fake to end."""
        await self.wait()

    def send(self, signum: int) -> None:
        """Deliver ``signum``: every signal ends a fake (it has no handlers)."""
        if self._status is None and self._kill_w >= 0:
            self.signals_sent.add(signum)
            os.write(self._kill_w, bytes([signum]))
            os.close(self._kill_w)
            self._kill_w = -1

    async def signal(self, signum: int) -> None:
        """Deliver ``signum``: a fake has no handlers, so it ends."""
        self.send(signum)

    async def terminate(self, grace: float) -> None:
        """End the fake (SIGTERM ends it at once) and reap it."""
        if self.poll() is None:
            self.send(signal.SIGTERM)
        await self.wait()

    async def end_group(self, grace: float) -> None:
        """A fake leaves nothing behind."""

    async def end_command(self, grace: float) -> None:
        """A fake leaves nothing behind."""

    def close(self) -> None:
        """Release the fake's descriptors (it must have been reaped)."""
        for name in ("_kill_r", "_kill_w", "_done_r", "_done_w"):
            fd: int = getattr(self, name)
            if fd >= 0:
                setattr(self, name, -1)
                os.close(fd)

    def ended_by_cuprum(self) -> bool:
        """True when the fake ended of a signal cuprum sent."""
        code = self._returncode
        return code is not None and code < 0 and -code in self.signals_sent

    def lost_its_reader(self, downstream_done: bool) -> bool:
        """True when the fake's reader went away while it wrote (SIGPIPE)."""
        return self._returncode == -signal.SIGPIPE


def _produce(output: Output, stdin: bytearray) -> bytes:
    return output(bytes(stdin)) if callable(output) else output
