"""What the login shell and cuprum's wrapper cost here, run as sshd would run them."""

from __future__ import annotations

import os
import pwd
import subprocess
import time
from typing import Any

from benchmarks.harness import check
from benchmarks.loopback import Login

# What sshd puts in a session's environment (as in scenarios/remote.py).
SSHD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def login_env(login: Login) -> tuple[dict[str, str], str]:
    entry = pwd.getpwnam(login.user)
    env = {
        "HOME": entry.pw_dir,
        "USER": entry.pw_name,
        "LOGNAME": entry.pw_name,
        "SHELL": entry.pw_shell,
        "PATH": SSHD_PATH,
        "SSH_CLIENT": "127.0.0.1 50000 22",
        "SSH_CONNECTION": "127.0.0.1 50000 127.0.0.1 22",
    }
    return env, entry.pw_dir


def as_login(login: Login) -> dict[str, Any]:
    """subprocess options that run a child as the login (when it is not us)."""
    if pwd.getpwuid(os.getuid()).pw_name == login.user:
        return {}
    entry = pwd.getpwnam(login.user)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def local_shell_true(login: Login, count: int) -> list[float]:
    """``<login shell> -c true`` here, as sshd starts a command (same user, same env)."""
    env, home = login_env(login)
    times: list[float] = []
    for _ in range(count):
        start = time.perf_counter()
        subprocess.run(
            [login.shell, "-c", "true"],
            env=env,
            cwd=home,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=True,
            **as_login(login),
        )
        times.append(time.perf_counter() - start)
    return times


def local_wrapper_true(login: Login, count: int) -> list[float]:
    """cuprum's remote wrapper around ``true``, run here by the login shell as sshd would.

    The string is the one cuprum sends (lifeline mode: stdin is a pipe kept
    open until the wrapper exits, as the channel is).
    """
    from cuprum.remote._wrapper import new_token, remote_command

    env, home = login_env(login)
    times: list[float] = []
    for _ in range(count):
        token = new_token()
        script = remote_command(
            ["true"], token=token, lifeline=True, merge_stderr=False, grace=2.0, cwd=None, env=None
        )
        start = time.perf_counter()
        proc = subprocess.Popen(
            [login.shell, "-c", script],
            env=env,
            cwd=home,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            **as_login(login),
        )
        code = proc.wait()
        times.append(time.perf_counter() - start)
        assert proc.stdin is not None
        assert proc.stderr is not None
        assert proc.stdout is not None
        proc.stdin.close()
        err = proc.stderr.read()
        proc.stdout.close()
        proc.stderr.close()
        check(code == 0 and f"cuprum-{token} exit 0".encode() in err, f"wrapper: {code} {err!r}")
    return times
