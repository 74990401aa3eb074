"""Synthetic logs: the populations, sizes, models and results a log is planned with."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import orjson

FORMATS = ("flat", "openai")
OPT = orjson.OPT_APPEND_NEWLINE
DAY_MS = 86_400_000
HOUR_MS = 3_600_000
BASE_ACCOUNTS = 300  # population sizes below are per this many accounts
BASE_DAYS = 7  # request counts below are per this many days

# Independent random streams, so that e.g. the text pools do not shift when the plan changes.
S_POOLS, S_PLAN, S_TIMES, S_TEXT, S_CALIBRATE, S_SUITE = range(1, 7)

DIURNAL = np.array(
    [
        0.2,
        0.12,
        0.08,
        0.06,
        0.06,
        0.08,
        0.2,
        0.45,
        0.8,
        1.0,
        1.1,
        1.1,
        1.0,
        1.05,
        1.1,
        1.1,
        1.05,
        1.0,
        0.95,
        1.0,
        1.05,
        0.95,
        0.7,
        0.4,
    ]
)
DIURNAL = DIURNAL / DIURNAL.sum()

BENIGN_MODELS = (("frontier-large", 0.45), ("frontier-mini", 0.40), ("frontier-reasoning", 0.15))
EXTRACTOR_MODELS = (("frontier-reasoning", 0.8), ("frontier-large", 0.2))  # chain-of-thought harvesting
BULK_MODELS = (("frontier-large", 0.7), ("frontier-reasoning", 0.2), ("frontier-mini", 0.1))
PROBE_MODELS = (("frontier-large", 0.7), ("frontier-mini", 0.3))  # reasoning models give no logprobs
REASONING_MODEL = "frontier-reasoning"


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class AccountLabel:
    """The truth about one synthetic account."""

    account_id: str
    label: str  # "benign" or "extractor"
    kind: str  # casual, power, chat, integration, eval_run, harvest
    campaign: str  # extraction campaign ("" for benign accounts)
    requests: int  # requests this account has in the log


@dataclass(frozen=True)
class SynthSummary:
    """What `write_log` wrote."""

    path: str
    fmt: str
    seed: int
    records: int
    bytes_written: int  # bytes of JSON Lines, before any compression
    file_bytes: int  # bytes on disk
    seconds: float
    labels: tuple[AccountLabel, ...]  # one per account, in plan order (population by population)

    @property
    def mb_per_s(self) -> float:
        """Uncompressed MB (1e6 bytes) written per second, planning included."""
        return self.bytes_written / 1e6 / max(self.seconds, 1e-9)

    @property
    def n_extractors(self) -> int:
        return sum(1 for a in self.labels if a.label == "extractor")


# --------------------------------------------------------------------------- random draws
