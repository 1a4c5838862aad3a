"""`fake_processes`: routes, recorded calls, and the transport that runs fakes.

The fakes plug into the engine's transport seam: while a
`fake_processes` block is in force, every stage's transport is wrapped in
a `FakeTransport` (`cuprum._transport.overriding`), whose `prepare` matches
the command against the routes and returns a `FakeLaunch`; spawning it
starts a `FakeChild` on the descriptors the engine opened. Pumps, capture,
events, timeouts and cleanup are the engine's own, for fakes as for
processes.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Generator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from types import EllipsisType
from typing import TYPE_CHECKING, Any, final

from .._errors import CuprumError
from .._local import PlainStderr
from .._process import build_env
from .._transport import Launch, StageIo, Transport, overriding
from ._process import Behaviour, FakeChild, Output

if TYPE_CHECKING:
    from .._commands import SafeCmd
    from .._options import ResolvedContext

__all__ = [
    "ANY",
    "FakeCall",
    "FakeProcesses",
    "FakeRoute",
    "UnregisteredCommandError",
    "fake_processes",
]


@final
class _Any:
    __slots__ = ()

    def __repr__(self) -> str:
        return "ANY"


ANY = _Any()
"""In a route's argv: exactly one argument, whatever it is."""

Pattern = str | _Any | EllipsisType


@final
class UnregisteredCommandError(CuprumError, LookupError):
    """A command ran inside `fake_processes` and matched no route.

    Attributes
    ----------
    argv : tuple[str, ...]
        The command's argv.
    """

    def __init__(self, argv: tuple[str, ...], patterns: Sequence[tuple[Pattern, ...]]) -> None:
        self.argv = argv
        shown = "; ".join(_show(p) for p in patterns) or "none"
        super().__init__(
            f"no fake registered for {list(argv)!r} (registered: {shown}); register it "
            "with fake.register(...), or pass allow_unregistered=True to run it for real"
        )


def _show(pattern: tuple[Pattern, ...]) -> str:
    return "[" + ", ".join("..." if p is ... else repr(p) for p in pattern) + "]"


@final
@dataclass(frozen=True, slots=True)
class FakeCall:
    """One faked run of a command.

    Attributes
    ----------
    argv : tuple[str, ...]
        The argv, program first.
    cwd : str | None
        The working directory the process would have had.
    env : dict[str, str]
        The environment the process would have had (for a remote command:
        the variables the run sets).
    stdin : bytes
        What the fake read on stdin (complete once it has exited).
    host : str | None
        The remote host's destination, None for a local command.
    """

    argv: tuple[str, ...]
    cwd: str | None
    env: dict[str, str] = field(repr=False)
    stdin: bytes
    host: str | None


@final
@dataclass(eq=False)
class FakeRoute:
    """A registered fake: the pattern it matches and what it does."""

    pattern: tuple[Pattern, ...]
    behaviour: Behaviour = field(repr=False)
    times: int | None = None
    calls: list[FakeCall] = field(default_factory=list[FakeCall], repr=False)

    @property
    def call_count(self) -> int:
        """How many runs this route faked."""
        return len(self.calls)

    def matches(self, argv: tuple[str, ...]) -> bool:
        """Say whether ``argv`` fits the pattern and the route has calls left."""
        if self.times is not None and self.call_count >= self.times:
            return False
        pattern = self.pattern
        if pattern and pattern[-1] is ...:
            head = pattern[:-1]
            if len(argv) < len(head):
                return False
            argv = argv[: len(head)]
            pattern = head
        return len(argv) == len(pattern) and all(
            p is ANY or p == a for p, a in zip(pattern, argv, strict=True)
        )


def _output(value: object, name: str) -> Output:
    match value:
        case bytes():
            return value
        case str():
            return value.encode()
        case _ if callable(value):
            produce: Callable[[bytes], object] = value

            def call(stdin: bytes) -> bytes:
                out = produce(stdin)
                if isinstance(out, str):
                    return out.encode()
                if isinstance(out, bytes):
                    return out
                raise TypeError(f"{name} callable returned {type(out).__name__}, not bytes or str")

            return call
        case _:
            raise TypeError(f"{name} must be bytes, str or a callable, got {type(value).__name__}")


@final
class FakeProcesses:
    """The routes and calls of one `fake_processes` block."""

    def __init__(self, *, allow_unregistered: bool = False) -> None:
        self.allow_unregistered = allow_unregistered
        self.routes: list[FakeRoute] = []
        self.calls: list[FakeCall] = []
        self._transports: dict[int, FakeTransport] = {}
        self.lock: threading.Lock = threading.Lock()

    def register(
        self,
        argv: Sequence[Pattern],
        *,
        stdout: bytes | str | Callable[[bytes], bytes | str] = b"",
        stderr: bytes | str | Callable[[bytes], bytes | str] = b"",
        exit_code: int = 0,
        delay: float = 0.0,
        times: int | None = None,
    ) -> FakeRoute:
        """Fake the commands whose argv matches ``argv``; return the route.

        Raises
        ------
        TypeError, ValueError
            For a pattern, output, code, delay or count that makes no sense.
        """
        pattern = tuple(argv)
        if not pattern or pattern[0] is ...:
            raise ValueError("register() needs an argv pattern that starts with the program")
        for index, part in enumerate(pattern):
            if part is ... and index != len(pattern) - 1:
                raise ValueError("... may only be the last element of a pattern")
            if not isinstance(part, (str, _Any)) and part is not ...:
                raise TypeError(f"pattern element {part!r} is not a str, ANY or ...")
        if isinstance(exit_code, bool) or not isinstance(exit_code, int):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(f"exit_code must be an int, got {exit_code!r}")
        if not isinstance(delay, (int, float)) or not delay >= 0:  # pyright: ignore[reportUnnecessaryIsInstance]
            raise ValueError(f"delay must be a non-negative number, got {delay!r}")
        if times is not None and (isinstance(times, bool) or times < 1):
            raise ValueError(f"times must be an int >= 1 or None, got {times!r}")
        behaviour = Behaviour(
            _output(stdout, "stdout"), _output(stderr, "stderr"), exit_code, float(delay)
        )
        route = FakeRoute(pattern, behaviour, times)
        self.routes.append(route)
        return route

    def route_for(self, argv: tuple[str, ...]) -> FakeRoute | None:
        """The first route that matches ``argv``, or None."""
        return next((route for route in self.routes if route.matches(argv)), None)

    # --- the transport override (cuprum._transport.TransportOverride) ---------

    @property
    def connects(self) -> bool:
        """Hosts entered inside the block connect nothing."""
        return False

    def transport(self, real: Transport) -> Transport:
        """The fake transport in front of ``real`` (one per real transport)."""
        fake = self._transports.get(id(real))
        if fake is None:
            fake = self._transports[id(real)] = FakeTransport(self, real)
        return fake


@contextmanager
def fake_processes(*, allow_unregistered: bool = False) -> Generator[FakeProcesses]:
    """Fake every command run inside the block (tasks started in it included).

    Parameters
    ----------
    allow_unregistered : bool
        Run commands that match no route for real instead of raising
        `UnregisteredCommandError`.

    Yields
    ------
    FakeProcesses
        Register routes on it; read ``calls`` afterwards.
    """
    fakes = FakeProcesses(allow_unregistered=allow_unregistered)
    with overriding(fakes):
        yield fakes


@final
class FakeLaunch(PlainStderr):
    """A stage that a route fakes."""

    remote_pgid = None

    def __init__(
        self, route: FakeRoute, call: FakeCall, record: Callable[[FakeCall], None]
    ) -> None:
        self.route = route
        self.call = call
        self._record = record
        self.child: FakeChild | None = None

    @property
    def host(self) -> str | None:
        """The destination the command would have run on."""
        return self.call.host

    def spawn(self, io: StageIo) -> FakeChild:
        """Start the fake on the engine's descriptors."""

        def exited(stdin: bytes) -> None:
            self._record(replace(self.call, stdin=stdin))

        self.child = FakeChild(self.route.behaviour, io, exited, self.call.argv[0])
        return self.child

    async def settle(self, *, quiet: bool) -> None:
        """Raise what an output callable raised."""
        child = self.child
        if child is not None and child.error is not None and not quiet:
            raise child.error


@final
class FakeTransport:
    """Runs the commands that match a route as fakes, the others as ``real`` would."""

    def __init__(self, fakes: FakeProcesses, real: Transport) -> None:
        self.fakes = fakes
        self.real = real

    @property
    def admission_order(self) -> int:
        """The real transport's order (fakes need no admission)."""
        return self.real.admission_order

    def check(self, cmd: SafeCmd, ctx: ResolvedContext) -> None:
        """Nothing to check for a faked command; else what ``real`` checks."""
        if self.fakes.route_for(cmd.argv) is not None:
            return
        if not self.fakes.allow_unregistered:
            raise UnregisteredCommandError(cmd.argv, [r.pattern for r in self.fakes.routes])
        self.real.check(cmd, ctx)

    def prepare(self, cmd: SafeCmd, ctx: ResolvedContext) -> Launch:
        """A `FakeLaunch` for a matching command; else the real one, or an error.

        Raises
        ------
        UnregisteredCommandError
            No route matches and unregistered commands may not run.
        """
        host: Any = getattr(self.real, "destination", None)
        env = {k: v for k, v in (ctx.env or {}).items() if v is not None}
        if host is None:
            env = dict(build_env(ctx.env) or os.environ)
        call = FakeCall(argv=cmd.argv, cwd=ctx.cwd, env=env, stdin=b"", host=host)
        fakes = self.fakes
        with fakes.lock:  # runs in several threads' loops may share the block
            route = fakes.route_for(cmd.argv)
            if route is not None:
                fakes.calls.append(call)
                route.calls.append(call)
        if route is None:
            if fakes.allow_unregistered:
                return self.real.prepare(cmd, ctx)
            raise UnregisteredCommandError(cmd.argv, [r.pattern for r in fakes.routes])
        found = route

        def record(done: FakeCall) -> None:
            # By identity: the test may have cleared or edited the lists meanwhile.
            with fakes.lock:
                for calls in (fakes.calls, found.calls):
                    for index, recorded in enumerate(calls):
                        if recorded is call:
                            calls[index] = done
                            break

        return FakeLaunch(route, call, record)

    async def admit(self, launches: Sequence[Launch]) -> None:
        """Fakes start at once; real stages are admitted by their transport."""
        real = [launch for launch in launches if not isinstance(launch, FakeLaunch)]
        if real:
            await self.real.admit(real)

    def release(self, launches: Sequence[Launch]) -> None:
        """Give back what the real stages took."""
        real = [launch for launch in launches if not isinstance(launch, FakeLaunch)]
        if real:
            self.real.release(real)
