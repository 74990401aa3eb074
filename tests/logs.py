"""Small, seeded request logs for tests (flat shape): ordinary accounts and a few harvesters."""

from __future__ import annotations

import json
import random

WORDS = [
    "alpha",
    "beta",
    "gamma",
    "delta",
    "epsilon",
    "zeta",
    "eta",
    "theta",
    "iota",
    "kappa",
    "lambda",
    "mu",
    "nu",
    "xi",
    "omicron",
    "pi",
    "rho",
    "sigma",
    "tau",
    "upsilon",
    "phi",
    "chi",
    "psi",
    "omega",
    "river",
    "stone",
    "cloud",
    "market",
    "engine",
    "garden",
    "window",
]


# the ScanStats fields every runner must agree on, whatever the split of the input
COUNTS = (
    "files",
    "bytes_read",
    "bytes_decoded",
    "records_read",
    "records_scored",
    "records_rejected",
    "rejected_by_reason",
    "accounts",
)


def records(n_accounts: int = 12, per_account: int = 40, seed: int = 0, prefix: str = "acct") -> list[dict]:
    """Records of `n_accounts` accounts; every third account repeats one template (a harvester)."""
    rng = random.Random(seed)
    out = []
    base = 1756684800
    for a in range(n_accounts):
        acct = f"{prefix}_{a:03d}"
        harvester = a % 3 == 0
        for i in range(per_account):
            if harvester:
                prompt = f"Explain step by step why {rng.choice(WORDS)} {rng.choice(WORDS)} matters in detail"
                ct, mt, fin = 1200, 1200, "length"
            else:
                prompt = " ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 14)))
                ct, mt, fin = rng.randint(5, 300), 1000, "stop"
            out.append(
                {
                    "request_id": f"{acct}-{i}",
                    "account_id": acct,
                    "ts": base + a * 3600 + i * (60 if harvester else 7919) % 86400 * 3,
                    "model": rng.choice(["m-large", "m-small"]),
                    "prompt": prompt,
                    "completion": "ok " * rng.randint(0, 5),
                    "prompt_tokens": len(prompt.split()),
                    "completion_tokens": ct,
                    "max_tokens": mt,
                    "temperature": rng.choice([0.0, 0.7]),
                    "n": 1 if rng.random() < 0.9 else 3,
                    "logprobs": harvester and i % 2 == 0,
                    "finish_reason": fin,
                }
            )
    rng.shuffle(out)
    return out


def write_jsonl(path, recs) -> None:
    with open(path, "wb") as fh:
        for r in recs:
            fh.write(r if isinstance(r, bytes) else json.dumps(r).encode())
            fh.write(b"\n")


def table_rows(stdout: str) -> int:
    """Lines of the top-N table that start a row (the header included): reasons wrap onto
    continuation lines, which start with spaces."""
    return sum(1 for line in stdout.splitlines() if line and not line.startswith(" "))
