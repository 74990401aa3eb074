"""Scoring a finished scan: near-duplicates and cross-account links (neardup), per-account
features (features), coordination across accounts (coordination), the published signals
(signals), the extraction score and its reasons (model, with the fitted weights in weights),
campaigns judged together (campaigns), and `finish(partial) -> Report`."""

from __future__ import annotations

from fastscan.score.finish import finish
from fastscan.score.model import FLAG_THRESHOLD, MIN_REQUESTS

__all__ = ["FLAG_THRESHOLD", "MIN_REQUESTS", "finish"]
