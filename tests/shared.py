"""Where the shared evaluation data is: FASTSCAN_SHARED, else ../shared beside the checkout.

It holds make_log.py and score_report.py (shared/eval) and real public prompts (shared/data/raw).
Nothing of it is copied into the repository; a test that needs it skips, saying what it needs.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED = Path(os.environ.get("FASTSCAN_SHARED") or Path(__file__).resolve().parents[2] / "shared")
MAKE_LOG = SHARED / "eval" / "make_log.py"
SCORE_REPORT = SHARED / "eval" / "score_report.py"
RAW = SHARED / "data" / "raw"

__all__ = ["MAKE_LOG", "RAW", "SCORE_REPORT", "SHARED", "needs_make_log", "needs_raw_prompts", "skip_reason"]


def skip_reason(what: Path) -> str:
    return f"needs {what} (the shared evaluation data: set FASTSCAN_SHARED to its folder)"


needs_make_log = pytest.mark.skipif(not MAKE_LOG.exists(), reason=skip_reason(MAKE_LOG))
needs_raw_prompts = pytest.mark.skipif(
    not (RAW / "self_instruct_t0_templated").is_dir(), reason=skip_reason(RAW / "self_instruct_t0_templated")
)
