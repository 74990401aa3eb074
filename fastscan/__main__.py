"""python -m fastscan: the command line, as the `fastscan` script."""

from __future__ import annotations

import sys

from fastscan.cli import console

if __name__ == "__main__":
    sys.exit(console())
