"""`RemoteChild`: a remote command's session through the master, seen as the command.

The session's local end (`Client`) is an in-process session on the
master's control socket (`cuprum.remote._mux.MuxSession`), or, where the
master refuses that protocol, a local ``ssh`` client process
(`cuprum._process.Child`). `RemoteChild` has the interface of a child, so
the engine supervises a remote stage like any other. What differs:

- the exit status comes from the wrapper's report (`RemoteStage.markers`);
- terminating sends ``kill -TERM -PGID`` through the master, then
  ``kill -KILL -PGID`` after the grace, then ends the local end of the
  session (the kill protocol of REMOTE.md);
- when the command has exited but a background process still holds the
  channel open, the group is ended after the grace, as for local children.
"""

from __future__ import annotations

import signal
import time
from typing import TYPE_CHECKING, Protocol, final

import anyio

if TYPE_CHECKING:
    from ._stage import RemoteStage

__all__ = ["Client", "RemoteChild"]

_POLL = 0.02
_EXIT_WATCH = 0.1  # the longest wait between two looks at the markers
DELIVERY_LIMIT = 60.0  # seconds a lagging reader gets after the group was ended


class Client(Protocol):
    """The local end of a remote session: what `RemoteChild` needs of it.

    `cuprum._process.Child` (an ``ssh`` client process) and
    `cuprum.remote._mux.MuxSession` (a session on the control socket) both
    have it. "Reaped" means the session is over for this machine.
    """

    @property
    def pid(self) -> int:
        """The local process that carries the session."""
        ...

    @property
    def started_at(self) -> float:
        """`time.monotonic` when the session was asked for."""
        ...

    @property
    def exited_at(self) -> float | None:
        """When the session ended for this machine."""
        ...

    @property
    def returncode(self) -> int | None:
        """The session's status once reaped (negative: ended by that signal)."""
        ...

    @property
    def signals_sent(self) -> set[int]:
        """Signals cuprum sent the local end."""
        ...

    def poll(self) -> int | None:
        """Reap without waiting; return the status if over."""
        ...

    async def wait(self) -> int:
        """Wait until reaped; return the status."""
        ...

    async def terminate(self, grace: float) -> None:
        """End the local end; return once reaped."""
        ...

    async def end_group(self, grace: float) -> None:
        """End what the local end left running on this machine."""
        ...

    def close(self) -> None:
        """Release what the local end holds (idempotent)."""
        ...


@final
class RemoteChild:
    """The local end of a remote stage's session, seen as the remote command.

    `returncode` is None until the client is reaped; then it is the status
    the wrapper reported (a death by signal reads as 128+n), or, without a
    report, 128+n for the last signal cuprum sent the remote group, or the
    client's own status.
    """

    __slots__ = ("_client", "_ending", "_guarding", "_stage", "signals_sent", "started_at")

    def __init__(self, client: Client, stage: RemoteStage) -> None:
        self._client = client
        self._stage = stage
        self.started_at: float = client.started_at
        self.signals_sent: set[int] = set()  # sent to the remote group
        self._ending: anyio.Event | None = None  # set once end_remote is over
        self._guarding = False

    @property
    def pid(self) -> int:
        """The local process carrying the session: the master, or an ``ssh`` client."""
        return self._client.pid

    @property
    def client_code(self) -> int | None:
        """The local client's own exit status."""
        return self._client.returncode

    @property
    def returncode(self) -> int | None:
        """The remote command's exit status, once the client is reaped."""
        client = self._client.returncode
        if client is None:
            return None
        markers = self._stage.markers
        if markers.exit_code is not None:
            return markers.exit_code
        if self.signals_sent and client >= 0:
            return 128 + (signal.SIGKILL if signal.SIGKILL in self.signals_sent else signal.SIGTERM)
        return client

    @property
    def exited_at(self) -> float | None:
        """When the command exited (its report, else the client's exit)."""
        reported = self._stage.markers.exited_at
        if self._client.exited_at is None:
            return None
        return min(reported, self._client.exited_at) if reported else self._client.exited_at

    def ended_by_cuprum(self) -> bool:
        """True when the status is the effect of a signal cuprum sent."""
        code = self.returncode
        if code is None:
            return False
        if code < 0:
            return -code in self._client.signals_sent
        if self._stage.markers.exit_code is None:
            return bool(self.signals_sent or self._client.signals_sent)
        return any(code == 128 + sig for sig in self.signals_sent)

    def died_of_sigpipe(self) -> bool:
        """True when the remote command died of SIGPIPE (its reader went away)."""
        return self.returncode == 128 + signal.SIGPIPE

    def lost_its_reader(self, downstream_done: bool) -> bool:
        """True when the command ended because nobody read its output any more.

        Besides SIGPIPE: cuprum ended it after every later stage had
        exited, because the master may drop the exit report of a session
        whose stdout nobody reads.
        """
        return self.died_of_sigpipe() or (downstream_done and self.ended_by_cuprum())

    def poll(self) -> int | None:
        """Reap the client if it exited; return the command's status if known.

        Unlike `returncode`, this reports the wrapper's exit status as soon
        as it is read, while a background process may still hold the
        channel (``lines()`` uses it to start its grace period).
        """
        self._client.poll()
        self._stage.refresh()
        if self._stage.markers.exit_code is not None:
            return self._stage.markers.exit_code
        return self.returncode

    async def exited(self) -> None:
        """Return once the wrapper reported the exit, or the client is gone."""
        while self.poll() is None:
            await self._stage.pull(_EXIT_WATCH)

    async def wait(self) -> int:
        """Wait until the client is reaped; return the command's status.

        Once the command has reported its exit, a background process that
        keeps the channel open gets ``cancel_grace``; then the remote group
        is ended (as for a local child's background descendants).

        Cancellation: the client and the command are left running; callers
        end them with `terminate` in a shielded scope.
        """
        if self._client.returncode is None:
            if self._guarding:
                await self._client.wait()
            else:
                self._guarding = True
                try:
                    if self._stage.reading:
                        await self._guard_after_report()
                    else:
                        await self._guard_while_pulling()
                finally:
                    self._guarding = False
        code = self.returncode
        assert code is not None
        return code

    async def _guard_after_report(self) -> None:
        # The stage's reader task parses the markers: the exit report sets
        # this scope's deadline, so the linger costs no task of its own.
        stage = self._stage
        grace = stage.ctx.cancel_grace
        with anyio.CancelScope() as scope:

            def reported() -> None:
                scope.deadline = anyio.current_time() + grace

            stage.on_report = reported
            try:
                if stage.markers.exit_code is not None:
                    reported()
                await self._client.wait()
            finally:
                stage.on_report = None
        if scope.cancelled_caught:
            await self.end_group(grace)
            await self._client.wait()

    async def _guard_while_pulling(self) -> None:
        # No reader task (``lines()`` keeps stderr in a file): a task pulls
        # the markers while this one waits for the client.
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._linger)
            await self._client.wait()
            tg.cancel_scope.cancel()

    async def _linger(self) -> None:
        stage = self._stage
        while stage.markers.exit_code is None:
            await stage.pull(0.1)
        grace = stage.ctx.cancel_grace
        await anyio.sleep(grace)
        await self.end_group(grace)

    async def _learn_pgid(self, timeout: float) -> int | None:
        stage = self._stage
        deadline = time.monotonic() + timeout
        while stage.markers.pgid is None and self._client.poll() is None:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            await stage.pull(min(left, 0.1))
        return stage.markers.pgid

    async def _remote_ended(self, timeout: float) -> None:
        """Wait until the client is gone and the command reported or stderr ended."""
        stage = self._stage
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._client.poll() is not None:
                stage.refresh()
                if stage.markers.exit_code is not None or stage.eof:
                    return
            await stage.pull(min(_POLL, max(0.0, deadline - time.monotonic())))

    async def end_remote(self, grace: float) -> None:
        """``kill -TERM -PGID`` through the master, ``kill -KILL -PGID`` after ``grace``.

        The KILL is skipped when the command reported its exit and the
        client is gone (the wrapper itself leaves a delayed KILL behind
        after a TERM), and when the master could not deliver the TERM (the
        connection is gone: the wrapper's watcher ends the group then).
        Runs once per stage; a concurrent call waits for the first.
        """
        pgid = self._stage.markers.pgid
        if pgid is None:
            return
        if self._ending is not None:
            await self._ending.wait()
            return
        self._ending = anyio.Event()
        try:
            host = self._stage.master
            if not await host.kill_group("TERM", pgid):
                return
            self.signals_sent.add(signal.SIGTERM)
            await self._remote_ended(grace)
            if self._client.poll() is None or self._stage.markers.exit_code is None:
                if await host.kill_group("KILL", pgid):
                    self.signals_sent.add(signal.SIGKILL)
                await self._remote_ended(grace)
        finally:
            self._ending.set()

    async def signal(self, signum: int) -> None:
        """Send ``signum`` to the remote process group, through the master."""
        pgid = self._stage.markers.pgid
        if pgid is None:
            # Just started: the wrapper has not reported its group yet.
            pgid = await self._learn_pgid(self._stage.ctx.cancel_grace)
        if pgid is None or self.poll() is not None:
            return
        name = signal.Signals(signum).name.removeprefix("SIG")
        if await self._stage.master.kill_group(name, pgid):
            self.signals_sent.add(signum)

    async def end_command(self, grace: float) -> None:
        """End only the remote group: the client may still deliver its output."""
        await self.end_remote(grace)

    async def terminate(self, grace: float) -> None:
        """End the remote group through the master, then the local client.

        Always returns with the client reaped. Call it in a shielded scope.
        """
        stage = self._stage
        if self._client.poll() is None:
            if stage.markers.pgid is None and not stage.on_lifeline:
                # With stdin given nothing else ends the command early in
                # its life: wait for the wrapper to report its group.
                await self._learn_pgid(grace)
            if stage.markers.exit_code is None or self._client.poll() is None:
                await self.end_remote(grace)
            if self._client.poll() is None:
                await self._client.terminate(grace)
        elif stage.markers.exit_code is None and stage.markers.problem is None:
            await self.end_remote(grace)

    async def end_group(self, grace: float) -> None:
        """End what still holds the channel after the command exited.

        A session that is over (the client is gone and the command
        reported its exit) holds nothing of cuprum's: only the local
        client's group is checked then.
        """
        if self._client.poll() is None or self._stage.markers.exit_code is None:
            await self.end_remote(grace)
        if self._client.poll() is None:
            await self._await_delivery(grace)
        if self._client.poll() is None:
            await self._client.terminate(grace)
        else:
            await self._client.end_group(grace)

    async def _await_delivery(self, grace: float) -> None:
        """Let the master deliver what the command wrote to a slow reader.

        The client exits once the master has written the session's last
        byte into cuprum's pipes; ending it earlier drops the rest. So
        while output waits in cuprum's pipes (their reader lags), this
        waits; after ``grace`` with the pipe empty, or `DELIVERY_LIMIT`
        seconds in all (a writer outside the remote group that never
        stops), it returns and the client is ended.
        """
        stage = self._stage
        started = quiet_since = time.monotonic()
        limit = max(DELIVERY_LIMIT, grace)
        while self._client.poll() is None:
            now = time.monotonic()
            if now - started >= limit:
                return
            if stage.output_pending():
                quiet_since = now
            elif now - quiet_since >= grace:
                return
            await anyio.sleep(_POLL)

    def close(self) -> None:
        """Release the client's pidfd and the stage's session."""
        self._client.close()
        self._stage.release()
