"""``python -m benchmarks [--quick] [--only ...]``, from the repository root."""

import sys

from benchmarks.cli import main

sys.exit(main())
