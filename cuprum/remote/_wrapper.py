"""The POSIX-sh wrapper that runs a command on a remote host, and its markers.

A remote command travels as one string that the remote user's login shell
parses: ``exec /bin/sh -c <WRAPPER> cuprum <token> <mode> <grace> <cwd>
<n-env> <env...> <argv...>``, every element through `shlex.quote`. The
wrapper (tested under dash and bash):

1. saves the channel's stderr as descriptor 4 and reports its process group
   there (``pgid``): sshd starts each session with ``setsid()``, and the
   login shell ``exec``\\ s the wrapper, so ``$$`` is the group's id;
2. applies the environment (``NAME=value`` sets, a bare ``NAME`` unsets)
   and the working directory, and finds the program on ``PATH``, reporting
   ``nocwd``, ``notdir``, ``cwdperm``, ``notfound`` or ``noexec``;
3. starts a watcher that ends the group (TERM, then KILL after the grace)
   when the channel goes away. With no stdin given (mode ``l``) the watcher
   reads the channel's stdin, the *lifeline*, which cuprum keeps open and
   never writes; the command gets ``/dev/null``. With stdin given (mode
   ``w``) the watcher writes a heartbeat marker every half second and
   notices when the write fails;
4. runs the command as a child (``( exec "$@" )``: no builtins, argv[0]
   kept), surviving TERM itself (``trap``) so that it can report ``exit``
   with the status (a death by signal reads as 128+n). After a TERM it
   leaves a detached ``sleep grace; kill -KILL 0`` behind, so the rest of
   the group gets the same grace as local children and no more;
5. once the command has exited, has what is left of the group (a
   background job) get the grace a local one gets and then ends it,
   unless mode ``k`` (``keep_background``) says to leave it. In mode
   ``l`` the watcher does it, forking nothing more on the command's
   path: sshd closes the lifeline when the wrapper exits, and the watcher,
   finding the wrapper gone (``kill -0 $$``), sleeps the grace before its
   TERM (a hang-up while the wrapper lives gets the TERM at once). In mode
   ``w`` the wrapper kills the heartbeat, which holds the channel, and
   leaves a detached ``sleep grace; kill -TERM 0; sleep grace; kill -KILL
   0`` behind (holding no channel).

Marker lines are ``\\x1ecuprum-<token> <word> [value]\\n`` on stderr. The token
is random per run, so a command cannot forge them; `MarkerFilter` removes
them from the stream (wherever they appear: a heartbeat may land in the
middle of a line the command is writing) before capture, echo and events.
"""

from __future__ import annotations

import re
import secrets
import shlex
import time
from collections.abc import Mapping, Sequence
from typing import final

__all__ = ["MarkerFilter", "new_token", "remote_command", "validate_env_name"]

# Sent with every command. Its own names start with `__cu_` (refused as env
# names), so the caller's environment cannot change how it works; the PATH
# lookup cuts PATH with parameter expansions (no subshell, no fork; IFS and
# globbing are never involved), and the watchers run
# `sleep` with the login's PATH (`__cu_p`), not the caller's. `__cu_k` writes a
# marker; `__cu_r` is set by a TERM (or HUP, INT) sent to the group;
# `__cu_w` is the watcher's pid.
WRAPPER = r"""__cu_t=$1 __cu_m=$2 __cu_g=$3 __cu_d=$4 __cu_n=$5 __cu_p=$PATH
shift 5
exec 4>&2 2>/dev/null
__cu_k() { printf '\036cuprum-%s %s\n' "$__cu_t" "$1${2+ $2}" >&4; }
__cu_k pgid $$
while [ "$__cu_n" -gt 0 ]; do
case $1 in
*=*) eval "${1%%=*}=\${1#*=}; export ${1%%=*}";;
*) unset "$1";;
esac
shift; __cu_n=$((__cu_n-1))
done
if [ -n "$__cu_d" ]; then
[ -e "$__cu_d" ] || { __cu_k nocwd; exit 127; }
[ -d "$__cu_d" ] || { __cu_k notdir; exit 127; }
CDPATH= cd -P -- "$__cu_d" 2>/dev/null || { __cu_k cwdperm; exit 126; }
fi
case $1 in
*/*) [ -e "$1" ] || { __cu_k notfound; exit 127; }
if [ -d "$1" ] || [ ! -x "$1" ]; then __cu_k noexec; exit 126; fi;;
*) __cu_f= __cu_s=${PATH:+$PATH:}
while [ -n "$__cu_s" ]; do
__cu_x=${__cu_s%%:*} __cu_s=${__cu_s#*:}
if [ -f "${__cu_x:-.}/$1" ]; then
if [ -x "${__cu_x:-.}/$1" ]; then __cu_f=y; break; fi; __cu_f=n
fi
done
case $__cu_f in
y) ;;
n) __cu_k noexec; exit 126;;
*) __cu_k notfound "$PATH"; exit 127;;
esac;;
esac
__cu_r=
trap '__cu_r=1' TERM HUP INT
case $__cu_m in
l*) exec 3<&0 0</dev/null
{ trap '' TERM; PATH=$__cu_p; while read -r _; do :; done <&3
kill -0 $$ 2>/dev/null || sleep "$__cu_g"; kill -TERM 0; sleep "$__cu_g"; kill -KILL 0
} </dev/null >/dev/null 2>&1 4>&- &
__cu_w=$!; exec 3<&-;;
*) { trap '' TERM PIPE; PATH=$__cu_p; while __cu_k hb; do sleep 0.5 4>&- || sleep 1 4>&-; done
kill -TERM 0; sleep "$__cu_g" 4>&-; kill -KILL 0; } </dev/null >/dev/null 2>&1 &
__cu_w=$!;;
esac
case $__cu_m in
*m) ( exec "$@" ) 2>&1 4>&-;;
*) ( exec "$@" ) 2>&4 4>&-;;
esac
__cu_c=$?
case $__cu_m in
l|lm) ;;
*k*) kill -KILL "$__cu_w" 2>/dev/null;;
*) kill -KILL "$__cu_w" 2>/dev/null
{ trap '' TERM; PATH=$__cu_p; sleep "$__cu_g"; kill -TERM 0; sleep "$__cu_g"
kill -KILL 0; } </dev/null >/dev/null 2>&1 4>&- &;;
esac
if [ -n "$__cu_r" ]; then
{ PATH=$__cu_p; sleep "$__cu_g"; kill -KILL 0; } </dev/null >/dev/null 2>&1 4>&- &
fi
__cu_k exit "$__cu_c"
exit "$__cu_c"
"""

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_RESERVED_PREFIX = "__cu_"
# Variables a POSIX sh (dash, or bash as sh) owns: assigning them fails or is
# ignored, and a failed assignment would end the wrapper.
_SHELL_SPECIAL = frozenset(
    {"OPTIND", "PPID", "UID", "EUID", "BASHOPTS", "BASH_VERSINFO", "SHELLOPTS"}
)
_MAX_MARKER = 1 << 16  # longer than any marker the wrapper writes


def new_token() -> str:
    """Return a fresh random token for one run's markers."""
    return secrets.token_hex(12)


def validate_env_name(name: str, host: str) -> None:
    """Refuse an environment name a POSIX shell cannot set.

    Raises
    ------
    ValueError
        The name does not match ``[A-Za-z_][A-Za-z0-9_]*``, starts with
        ``__cu_`` (the wrapper's own names), or is one the shell owns
        (``OPTIND``; bash's read-only ``PPID``, ``UID``, ``EUID``,
        ``BASHOPTS``, ``BASH_VERSINFO``, ``SHELLOPTS``).
    """
    if not _ENV_NAME.match(name):
        raise ValueError(
            f"env: {name!r} cannot be set on {host}: remote variable names must "
            "match [A-Za-z_][A-Za-z0-9_]*"
        )
    if name in _SHELL_SPECIAL:
        raise ValueError(
            f"env: {name!r} cannot be set on {host}: the remote /bin/sh gives it a "
            "meaning of its own (dash and bash refuse or ignore such values)"
        )
    if name.startswith(_RESERVED_PREFIX):
        raise ValueError(
            f"env: {name!r} cannot be set on {host}: names starting with "
            f"{_RESERVED_PREFIX!r} belong to cuprum's remote wrapper"
        )


def _grace_text(grace: float) -> str:
    text = f"{grace:.3f}".rstrip("0").rstrip(".")
    return text or "0"


def remote_command(
    argv: Sequence[str],
    *,
    token: str,
    lifeline: bool,
    merge_stderr: bool,
    grace: float,
    cwd: str | None,
    env: Mapping[str, str | None] | None,
    keep_background: bool = False,
    direct: bool = False,
) -> str:
    """Build the string the remote login shell runs.

    ``env`` must already be validated (`validate_env_name`). Unless
    ``keep_background``, what is left of the command's process group when
    it exits is sent SIGTERM, then SIGKILL after ``grace``.

    By default the login shell ``exec`` s ``/bin/sh -c <wrapper> <words>``
    (only quoted words reach it). With ``direct`` (a login shell that is
    itself ``sh`` or ``dash``, which read no rc file for ``-c``) it runs
    the wrapper itself after ``set -- <words>``: one ``exec`` less.
    """
    mode = (
        ("l" if lifeline else "w")
        + ("k" if keep_background else "")
        + ("m" if merge_stderr else "")
    )
    entries = [name if value is None else f"{name}={value}" for name, value in (env or {}).items()]
    words = [token, mode, _grace_text(grace), cwd or "", str(len(entries)), *entries, *argv]
    quoted = " ".join(shlex.quote(word) for word in words)
    if direct:
        return f"set -- {quoted}\n{WRAPPER}"
    return f"exec /bin/sh -c {shlex.quote(WRAPPER)} cuprum {quoted}"


@final
class MarkerFilter:
    """Remove one run's marker lines from a stderr stream and remember them.

    Attributes
    ----------
    pgid : int | None
        The remote process group, once reported.
    exit_code : int | None
        The command's exit status, once reported.
    exited_at : float | None
        `time.monotonic()` when the exit marker was read.
    problem : str | None
        ``notfound``, ``noexec``, ``nocwd``, ``notdir`` or ``cwdperm``.
    detail : str | None
        What came with the problem (the remote ``PATH`` for ``notfound``).
    """

    __slots__ = ("_held", "_prefix", "detail", "exit_code", "exited_at", "pgid", "problem")

    def __init__(self, token: str) -> None:
        self._prefix = b"\x1ecuprum-" + token.encode("ascii") + b" "
        self._held = b""
        self.pgid: int | None = None
        self.exit_code: int | None = None
        self.exited_at: float | None = None
        self.problem: str | None = None
        self.detail: str | None = None

    def feed(self, data: bytes) -> bytes:
        """Take the next bytes of the stream; return them without markers."""
        buf = self._held + data if self._held else data
        self._held = b""
        prefix = self._prefix
        out: list[bytes] = []
        pos = 0
        while True:
            start = buf.find(prefix, pos)
            if start < 0:
                break
            out.append(buf[pos:start])
            end = buf.find(b"\n", start)
            if end < 0:
                if len(buf) - start > _MAX_MARKER:
                    out.append(buf[start:])  # not ours after all
                    pos = len(buf)
                else:
                    self._held = buf[start:]
                    pos = len(buf)
                break
            self._parse(buf[start + len(prefix) : end])
            pos = end + 1
        if pos < len(buf):
            tail = buf[pos:]
            # Hold back an incomplete prefix at the very end.
            cut = tail.rfind(b"\x1e", max(0, len(tail) - len(prefix) + 1))
            if cut >= 0 and prefix.startswith(tail[cut:]):
                self._held = tail[cut:]
                tail = tail[:cut]
            out.append(tail)
        return b"".join(out)

    def finish(self) -> bytes:
        """End of stream: return what was held back (it was no marker)."""
        held, self._held = self._held, b""
        return held

    def _parse(self, body: bytes) -> None:
        word, _, value = body.partition(b" ")
        match word:
            case b"pgid" if value.isdigit():
                self.pgid = int(value)
            case b"exit" if value.isdigit():
                self.exit_code = int(value)
                self.exited_at = time.monotonic()
            case b"notfound" | b"noexec" | b"nocwd" | b"notdir" | b"cwdperm":
                self.problem = word.decode()
                self.detail = value.decode("utf-8", "replace") or None
            case _:
                pass  # the heartbeat, or a word of a newer wrapper
