#!/usr/bin/env python3
"""``make bench`` and ``make bench-quick``: ``python benchmarks/run.py [--quick]``.

The suite is the ``benchmarks`` package (see its ``__init__``); this script
only makes it importable when run by path, then runs `benchmarks.cli.main`.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run by path, Python puts benchmarks/ on sys.path, not the repository root
# that holds the `benchmarks` and `devtools` packages.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.cli import main

if __name__ == "__main__":
    sys.exit(main())
