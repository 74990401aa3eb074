"""A small flat log with everything a split scan can get wrong: templated and repeated prompts,
heavy accounts (past the bottom-k sample), long lines, blank lines and bad records.

Used by the split-scan tests until fastscan.synth is on main, and beside it afterwards: unlike
synth it plants bad records (malformed JSON, invalid UTF-8, a missing account id, a wrong type)
whose file and line the tests know.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

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
    "paper",
    "garden",
    "window",
    "silver",
    "market",
    "engine",
]


def _prompt(rng: random.Random, kind: str, i: int) -> str:
    if kind == "template":
        body = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12)))
        return f"Translate the following sentence into French please: {body} and return only the translation"
    if kind == "harvest":
        return (
            f"Write a long detailed answer about {rng.choice(WORDS)} {rng.choice(WORDS)} number "
            f"{rng.randint(0, 40)}, step by step."
        )
    n = rng.randint(1, 60) if rng.random() < 0.97 else rng.randint(2000, 6000)  # a few long lines
    return " ".join(rng.choice(WORDS) for _ in range(n)) + f" ({i})"


def write_mixed_log(path, *, accounts: int = 40, records: int = 3000, seed: int = 0, bad: bool = True) -> dict:
    """Write the log; return {"lines": lines written, "bad_lines": [1-based line numbers]}."""
    rng = random.Random(seed)
    kinds = ["person"] * (accounts - 6) + ["template"] * 3 + ["harvest"] * 3
    ids = [f"acct_{k:03d}" for k in range(accounts)]
    lines: list[bytes] = []
    bad_lines: list[int] = []
    t0 = 1_756_684_800_000
    for i in range(records):
        a = rng.randrange(accounts) if rng.random() < 0.6 else rng.randrange(accounts - 6, accounts)
        kind = kinds[a]
        rec = {
            "request_id": f"r{i}",
            "account_id": ids[a],
            "ts": t0 + i * 37_000 + rng.randint(0, 30_000),
            "model": rng.choice(["m-large", "m-mini"]),
            "prompt": _prompt(rng, kind, i),
            "completion": "word " * rng.randint(1, 40),
            "prompt_tokens": rng.randint(5, 200),
            "completion_tokens": rng.choice([rng.randint(1, 300), 1200]),
            "max_tokens": rng.choice([256, 1200, None]),
            "temperature": rng.choice([0.0, 0.7, 1.0]),
            "n": rng.choice([1, 1, 1, 4]),
            "logprobs": kind == "harvest" and rng.random() < 0.5,
            "finish_reason": rng.choice(["stop", "length"]),
        }
        lines.append(json.dumps(rec, separators=(",", ":")).encode())
        if rng.random() < 0.01:
            lines.append(b"")  # blank lines are not records
        if bad and rng.random() < 0.006:
            dump = lambda r: json.dumps(r, separators=(",", ":")).encode()  # noqa: E731
            bad_rec = rng.choice(
                [
                    lines[-1][: len(lines[-1]) // 2],  # cut short
                    dump({**rec, "account_id": None}),  # no account
                    dump({**rec, "prompt_tokens": "many"}),  # wrong type
                    dump(rec).replace(b'"prompt":"', b'"prompt":"\xff\xfe', 1),  # bad UTF-8
                ]
            )
            lines.append(bad_rec)
            bad_lines.append(len(lines))
    Path(path).write_bytes(b"\n".join(lines) + b"\n")
    return {"lines": len(lines), "bad_lines": bad_lines}


def split_interleaved(src: Path, parts: int, out_dir: Path, stem: str = "part") -> list[Path]:
    """`src` cut into `parts` files by taking every parts-th line, so every file sees every account."""
    lines = Path(src).read_bytes().splitlines(keepends=True)
    paths = []
    for k in range(parts):
        p = Path(out_dir) / f"{stem}{k:02d}.jsonl"
        p.write_bytes(b"".join(lines[k::parts]))
        paths.append(p)
    return paths
