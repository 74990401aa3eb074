"""Variants of make_log.py's built-in profile: campaigns and populations it does not have, to see
how quality moves on logs the score was never tuned on (docs/campaigns.md has the figures).

    python bench/profiles.py --out DIR [NAME ...]     # write DIR/NAME.json for make_log --profile
    python bench/score_quality.py --profiles mimic busy --seeds 8601

Each variant is a function that edits a copy of the built-in profile (../shared/eval/make_log.py's
DEFAULT_PROFILE, read at run time: nothing of ../shared is kept here).
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(1, str(Path(__file__).resolve().parents[1] / "tests"))  # tests/shared.py
from shared import MAKE_LOG  # noqa: E402


def _campaign(p: dict, name: str) -> dict:
    return next(x for x in p["populations"] if x.get("campaign") == name)


def _requests(median: int, sigma: float, lo: int, hi: int) -> dict:
    return {"median": median, "sigma": sigma, "min": lo, "max": hi}


def quietsolo(p: dict) -> None:
    """solo-bulk at people's hours and settings: 4,000 requests, bare tasks, 25% cover."""
    _campaign(p, "solo-bulk").update(
        timing="diurnal",
        cover_rate=0.25,
        wrappers=[0],
        max_tokens=[1024, 2048, 4096],
        requests=_requests(4000, 0.0, 4000, 4000),
    )


def plainring(p: dict) -> None:
    """The sybil ring without reasoning or templates: 100 accounts, bare tasks, people's max_tokens."""
    _campaign(p, "sybil-ring").update(
        cot_rate=0.0, wrappers=[0], max_tokens=[1024, 2048, 4096], accounts=100, requests=_requests(150, 0.5, 40, 600)
    )


def slowtaskgen(p: dict) -> None:
    """Task generation at people's hours: 12 accounts of about 150 requests."""
    _campaign(p, "self-instruct").update(
        timing="diurnal", accounts=12, max_tokens=[2048, 4096], requests=_requests(150, 0.5, 30, 600)
    )


def lightprobe(p: dict) -> None:
    """20 light probers: logprobs on 30% of requests, n of 1 or 2, people's hours."""
    _campaign(p, "logit-probe").update(
        timing="diurnal",
        accounts=20,
        logprobs_rate=0.3,
        n=[1, 2],
        max_tokens=[1024, 2048],
        requests=_requests(200, 0.5, 50, 800),
    )


def mimic(p: dict) -> None:
    """hydra on people's settings: 250 accounts of 10-120 requests, bare tasks, 10% reasoning, 30% cover."""
    _campaign(p, "hydra").update(
        accounts=250,
        wrappers=[0],
        cot_rate=0.1,
        max_tokens=[1024, 2048, 4096],
        cover_rate=0.3,
        requests=_requests(30, 0.5, 10, 120),
    )


def quietmix(p: dict) -> None:
    """quiet-mix at 50% cover: 40 accounts, bare or step-by-step tasks, people's max_tokens."""
    _campaign(p, "quiet-mix").update(
        accounts=40,
        wrappers=[0, 4],
        cot_rate=0.3,
        cover_rate=0.5,
        max_tokens=[1024, 2048, 4096],
        requests=_requests(120, 0.6, 30, 800),
    )


def hydra_many(p: dict) -> None:
    """hydra of 400 accounts of 8-80 requests."""
    _campaign(p, "hydra").update(accounts=400, requests=_requests(20, 0.5, 8, 80))


def busy(p: dict) -> None:
    """The benign side heavier: 12 resellers, 300 integrations, 60 evaluation runs; hydra 100 at 20% cover."""
    for x in p["populations"]:
        if x["kind"] == "reseller":
            x.update(accounts=12, requests=_requests(5000, 0.5, 1500, 12000))
        elif x["kind"] == "integration":
            x.update(accounts=300, requests=_requests(800, 1.0, 150, 12000))
        elif x["kind"] == "eval_run":
            x.update(accounts=60)
    _campaign(p, "hydra").update(accounts=100, cover_rate=0.2)


def long_window(p: dict) -> None:
    """The same populations over 112 days instead of 28, each account sending 4x the requests
    (evaluation runs stay bursts): evidence that grows with a log's span, not with harvesting."""
    p["days"] = 4 * int(p["days"])
    for x in p["populations"]:
        if x["kind"] != "eval_run":
            r = x["requests"]
            r.update(median=4 * r["median"], min=4 * r["min"], max=4 * r["max"])


VARIANTS: dict[str, Callable[[dict], None]] = {
    f.__name__: f
    for f in (quietsolo, plainring, slowtaskgen, lightprobe, mimic, quietmix, hydra_many, busy, long_window)
}


def default_profile() -> dict:
    """make_log.py's built-in profile (a copy)."""
    spec = importlib.util.spec_from_file_location("make_log", MAKE_LOG)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(f"{MAKE_LOG}: make_log.py not found")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return copy.deepcopy(module.DEFAULT_PROFILE)


def profile(name: str) -> dict:
    """The built-in profile with variant `name` applied."""
    if name not in VARIANTS:
        raise KeyError(f"no profile variant {name!r}; variants: {', '.join(VARIANTS)}")
    p = default_profile()
    VARIANTS[name](p)
    return p


def write_profile(name: str, path: Path) -> Path:
    path.write_text(json.dumps(profile(name), indent=1), encoding="utf-8")
    return path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="folder to write NAME.json into")
    ap.add_argument("names", nargs="*", help=f"variants (default: all): {', '.join(VARIANTS)}")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.names or list(VARIANTS):
        print(write_profile(name, args.out / f"{name}.json"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
