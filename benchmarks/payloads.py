"""The files the benchmarks read: random bytes and short lines, made once per run."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from benchmarks.harness import MiB, log, size_name


class Payloads:
    """Temporary files of random bytes (and one of short lines), made once."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="cuprum-bench-"))
        self._files: dict[str, Path] = {}

    def random(self, size: int) -> Path:
        key = f"random-{size}"
        if key not in self._files:
            path = self.dir / key
            log(f"  generating {size_name(size)} of random bytes in {path}")
            with open(path, "wb") as out:
                for offset in range(0, size, 16 * MiB):
                    out.write(os.urandom(min(16 * MiB, size - offset)))
            self._warm(path)
            self._files[key] = path
        return self._files[key]

    def lines(self, count: int) -> Path:
        key = f"lines-{count}"
        if key not in self._files:
            path = self.dir / key
            path.write_bytes(("\n".join(map(str, range(count))) + "\n").encode())
            self._warm(path)
            self._files[key] = path
        return self._files[key]

    def log(self, size: int) -> Path:
        """About ``size`` bytes of log lines: 60% DEBUG, 30% INFO, 10% ERROR."""
        key = f"log-{size}"
        if key not in self._files:
            path = self.dir / key
            levels = ["DEBUG"] * 6 + ["INFO"] * 3 + ["ERROR"]
            block = "".join(
                f"2026-01-01T00:00:{i % 60:02d} {levels[i * 7 % 10]} component-{i % 17}"
                f" message number {i} with some payload text\n"
                for i in range(10_000)
            ).encode()
            with open(path, "wb") as out:
                for _ in range(max(1, size // len(block))):
                    out.write(block)
            self._warm(path)
            self._files[key] = path
        return self._files[key]

    @staticmethod
    def _warm(path: Path) -> None:
        subprocess.run(["cat", str(path)], stdout=subprocess.DEVNULL, check=True)

    def cleanup(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
