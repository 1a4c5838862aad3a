"""Remote hosts: run commands and pipelines on other machines over OpenSSH.

cuprum drives the OpenSSH client binary through one ControlMaster per host
that it starts and owns (`SSHHost`). A remote command is a local ``ssh``
process, so pipelines (local and remote stages mixed), timeouts,
cancellation, events, `run_concurrent`, ``open()`` and ``lines()`` work as
they do locally, on asyncio, uvloop and trio, with either stream backend.

Choose where a command runs with ``cmd.on(host)``,
``ExecutionContext(host=host)`` or ``sh.scoped(host=host)``; `LOCAL` in
their place runs a command here although an outer level names a host.
"""

from __future__ import annotations

from .._context import LOCAL
from .._errors import RemoteConnectionError
from ._host import SSHHost

__all__ = ["LOCAL", "RemoteConnectionError", "SSHHost"]
