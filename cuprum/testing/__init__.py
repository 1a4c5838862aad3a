"""Fake processes for testing code that runs commands, without running any.

Inside a `fake_processes` block, every command cuprum runs is matched
against the registered routes and faked: a fake writes its output on real
pipes, reads its stdin, takes its time and exits with its code, so
pipelines (fake and real stages mixed), ``open()``, ``lines()``, events,
hooks, timeouts and cancellation behave as with a process, on asyncio
and trio and with either stream backend:

```python
from cuprum import GIT, sh
from cuprum.testing import ANY, fake_processes

with fake_processes() as fake:
    route = fake.register(["git", "status", "--short"], stdout="M  a.txt\\n")
    result = await sh.make(GIT)("status", "--short").run()
assert route.call_count == 1
```

Installing cuprum also installs a pytest plugin with the fixtures
``cuprum_fake`` (a `FakeProcesses` in force for the test) and
``cuprum_stream_backend`` (runs a test once per stream backend).
"""

from __future__ import annotations

from ._fakes import ANY as ANY
from ._fakes import FakeCall as FakeCall
from ._fakes import FakeProcesses as FakeProcesses
from ._fakes import FakeRoute as FakeRoute
from ._fakes import UnregisteredCommandError as UnregisteredCommandError
from ._fakes import fake_processes as fake_processes

__all__ = [
    "ANY",
    "FakeCall",
    "FakeProcesses",
    "FakeRoute",
    "UnregisteredCommandError",
    "fake_processes",
]
