"""Remote hosts: run commands and pipelines on other machines over OpenSSH.

cuprum drives OpenSSH through one ControlMaster per host that it starts
and owns (`SSHHost`); `connect_all` connects a fleet at once. A remote
command is a session of that master, opened on its control socket, whose
stdin, stdout and stderr are cuprum's own pipes, so pipelines (local and
remote stages mixed), timeouts, cancellation, events, `run_concurrent`,
``open()`` and ``lines()`` work as they do locally, on asyncio, uvloop and
trio, with either stream backend.

Choose where a command runs with ``cmd.on(host)``,
``ExecutionContext(host=host)`` or ``sh.scoped(host=host)``; `LOCAL` in
their place runs a command here although an outer level names a host.
"""

from __future__ import annotations

from .._context import LOCAL
from .._errors import RemoteConnectionError
from ._fleet import connect_all
from ._host import SSHHost

__all__ = ["LOCAL", "RemoteConnectionError", "SSHHost", "connect_all"]
