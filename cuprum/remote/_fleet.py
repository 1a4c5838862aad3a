"""`connect_all`: enter many `SSHHost` s at once, and leave them all."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Iterable

import anyio

from ._host import SSHHost

__all__ = ["connect_all"]


@contextlib.asynccontextmanager
async def connect_all(hosts: Iterable[SSHHost]) -> AsyncGenerator[list[SSHHost]]:
    """Connect every host at once; disconnect them all when the block ends.

    The connections are made concurrently, in one task group, so a fleet
    connects in about the time of its slowest host. Every attempt runs to
    its end (each bounded by its host's ``connect_timeout``), so a failure
    names every host that could not be reached; the hosts that did connect
    are then disconnected before the error is raised. However the block
    ends (an error, a cancellation), every host is disconnected, all at
    once, shielded.

    Parameters
    ----------
    hosts : Iterable[SSHHost]
        Hosts that are not connected yet; each may appear once.

    Yields
    ------
    list[SSHHost]
        The same hosts, in the order given, all connected.

    Raises
    ------
    RemoteConnectionError, ProgramNotFoundError
        One host could not be connected (its error, as ``async with host``
        raises it).
    ExceptionGroup
        Several hosts could not be connected: one error per host.
    TypeError, ValueError
        Something other than an `SSHHost`, or the same host twice.

    Examples
    --------
    >>> async def uptimes(names: list[str]) -> None:  # doctest: +SKIP
    ...     async with connect_all(SSHHost(name) for name in names) as hosts:
    ...         results = await run_concurrent(
    ...             [sh.make(UPTIME)().on(host) for host in hosts], limit=64
    ...         )
    """
    fleet = list(hosts)
    for host in fleet:
        if not isinstance(host, SSHHost):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(f"connect_all() takes SSHHost objects, got {host!r}")
    if len({id(host) for host in fleet}) != len(fleet):
        raise ValueError("connect_all() got the same SSHHost twice")
    entered: list[SSHHost] = []
    failures: list[Exception] = []

    async def enter(host: SSHHost) -> None:
        try:
            await host.__aenter__()
        except Exception as exc:
            failures.append(exc)
        else:
            entered.append(host)

    try:
        async with anyio.create_task_group() as tg:
            for host in fleet:
                tg.start_soon(enter, host)
        if len(failures) == 1:
            raise failures[0]
        if failures:
            raise ExceptionGroup(
                f"cannot connect to {len(failures)} of {len(fleet)} hosts", failures
            )
        yield fleet
    finally:
        with anyio.CancelScope(shield=True):
            async with anyio.create_task_group() as tg:
                for host in entered:
                    tg.start_soon(host.__aexit__, None, None, None)
