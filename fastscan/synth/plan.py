"""The plan of a log: which accounts of which populations send how many requests, and when."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np

from fastscan.synth.base import (
    BASE_ACCOUNTS,
    BASE_DAYS,
    BENIGN_MODELS,
    BULK_MODELS,
    DAY_MS,
    DIURNAL,
    EXTRACTOR_MODELS,
    HOUR_MS,
    PROBE_MODELS,
    S_PLAN,
    S_TIMES,
    AccountLabel,
)
from fastscan.synth.rand import Rand, make_rng
from fastscan.synth.text import integration_template
from fastscan.synth.vocab import BULK_WRAPPERS, CHAT_SYSTEMS, COT_WRAPPERS, PROBE_WRAPPERS


class _Pop:
    __slots__ = ("key", "label", "kind", "campaign", "role", "base", "median", "sigma", "lo", "hi", "min_accounts")

    def __init__(self, key, label, kind, campaign, role, base, median, sigma, lo, hi, min_accounts=1):
        self.key, self.label, self.kind, self.campaign, self.role = key, label, kind, campaign, role
        self.base, self.median, self.sigma, self.lo, self.hi = base, median, sigma, lo, hi
        self.min_accounts = min_accounts


# base: accounts per BASE_ACCOUNTS (per campaign for extractors); requests per account per BASE_DAYS
_POPS = (
    _Pop("casual", "benign", "casual", "", "casual", 0, 4, 1.2, 1, 150),
    _Pop("power", "benign", "power", "", "casual", 6, 150, 0.5, 60, 600),
    _Pop("chat", "benign", "chat", "", "chat", 24, 80, 0.6, 20, 600),
    _Pop("integration", "benign", "integration", "", "integration", 15, 300, 0.8, 60, 3000),
    _Pop("eval_run", "benign", "eval_run", "", "eval_run", 3, 400, 0.15, 250, 500),
    _Pop("solo-bulk", "extractor", "harvest", "solo-bulk", "bulk", 1, 2500, 0.0, 2500, 2500),
    _Pop("sybil-ring", "extractor", "harvest", "sybil-ring", "ring", 12, 150, 0.35, 60, 500, min_accounts=3),
    _Pop("logit-probe", "extractor", "harvest", "logit-probe", "probe", 1, 800, 0.3, 400, 2000),
)


class Account:
    """One planned account: who it is, how many requests, and the constants of its traffic."""

    def __init__(self, index: int, account_id: str, pop: _Pop, campaign: str, n: int):
        self.index, self.account_id, self.pop, self.campaign, self.n = index, account_id, pop, campaign, n
        self.role = pop.role
        self.model = ""
        self.tz = 0
        self.system = ""
        self.wrappers: tuple = ()
        self.timing = ""
        self.cv = 0.5
        self.window = (0, 0)
        self.template: dict = {}
        self.suite = 0
        self.max_tokens = 0
        self.models: tuple = ()
        self.state: Any = None  # generation state: a chat's conversation, an eval run's prompt order
        self.sent = 0

    def label(self, requests: int | None = None) -> AccountLabel:
        return AccountLabel(
            self.account_id, self.pop.label, self.pop.kind, self.campaign, self.n if requests is None else requests
        )


def _groups(accounts: int) -> list:
    """(population, campaign number, campaign name, accounts, request multiplier) for a log size.

    Populations keep their share of accounts; one below its minimum keeps the minimum and sends
    proportionally fewer requests, and the last campaign of a kind may be a fraction of one, so
    the volume of every population grows smoothly with `accounts`.
    """
    s = accounts / BASE_ACCOUNTS
    out = []
    for pop in _POPS[1:]:
        want = pop.base * s
        if pop.campaign:
            if s < 1:
                per = max(pop.min_accounts, round(want))
                out.append((pop, 0, pop.campaign, per, want / per))
                continue
            n_campaigns = math.ceil(s - 1e-9)
            for c in range(n_campaigns):
                name = pop.campaign if c == 0 else f"{pop.campaign}-{c + 1}"
                out.append((pop, c, name, pop.base, min(1.0, s - c)))
        else:
            got = max(pop.min_accounts, round(want))
            out.append((pop, 0, "", got, min(1.0, want / got)))
    n_casual = max(1, accounts - sum(g[3] for g in out))
    return [(_POPS[0], 0, "", n_casual, 1.0)] + out


def plan_accounts(accounts: int, seed: int, days: int) -> list:
    """Accounts, their request counts and the constants of their traffic, for about `accounts` accounts.

    Each population (each campaign) draws from its own stream, so the k-th account of a population
    is the same in a log of any size: a larger log is a superset of a smaller one, which is what
    lets `target_bytes` find its size by a few trials.
    """
    day_scale = days / BASE_DAYS
    groups = _groups(accounts)
    n_suites = max(1, -(-sum(g[3] for g in groups if g[0].role == "eval_run") // 4))
    used: set[str] = set()
    out: list[Account] = []
    for pop, c, campaign, n_acc, mult in groups:
        r = Rand(make_rng(seed, S_PLAN, _POPS.index(pop), c), block=256)
        models = {"bulk": BULK_MODELS, "probe": PROBE_MODELS}.get(pop.role, EXTRACTOR_MODELS)
        camp_model = r.weighted(models)
        for k in range(n_acc):
            aid = f"acct_{int(r.u() * (1 << 48)):012x}"
            while aid in used:
                aid = f"acct_{int(r.u() * (1 << 48)):012x}"
            used.add(aid)
            base_n = pop.median * math.exp(pop.sigma * r.z()) if pop.sigma else pop.median
            n = min(pop.hi, max(pop.lo, round(base_n)))
            n = max(1, round(n * mult * (1.0 if pop.role == "eval_run" else day_scale)))
            a = Account(len(out), aid, pop, campaign, n)
            # every account makes the same draws whatever its role, so streams stay aligned
            a.tz = r.randint(-8, 9)
            a.cv = r.uniform(0.15, 0.6)
            benign_model = r.weighted(BENIGN_MODELS)
            pick = r.u()
            if pop.label == "benign":
                a.model = benign_model
            else:
                a.model, a.models = camp_model, models
            if pop.role == "chat":
                a.system = CHAT_SYSTEMS[int(pick * len(CHAT_SYSTEMS))]
            elif pop.role == "integration":
                a.template = integration_template(r)
                a.model = r.pick(("frontier-mini", "frontier-mini", "frontier-large"))
                a.max_tokens = r.pick((16, 32, 64, 128, 256))
                a.system = r.pick(("", "Answer with the label only.", "You are a precise data-labelling assistant."))
                a.timing = r.pick(("steady", "steady", "business", "nightly"))
                a.cv = r.uniform(0.2, 1.0)
            elif pop.role == "eval_run":
                a.suite = int(pick * n_suites)
            elif pop.role == "bulk":
                a.wrappers = (BULK_WRAPPERS[c % len(BULK_WRAPPERS)],)
            elif pop.role == "ring":
                a.wrappers = tuple(r.sample(COT_WRAPPERS, 1 + int(pick * len(COT_WRAPPERS))))
                a.window = (k, n_acc)
            elif pop.role == "probe":
                a.wrappers = tuple(r.sample(PROBE_WRAPPERS, 1 + int(pick * len(PROBE_WRAPPERS))))
            out.append(a)
    return out


# --------------------------------------------------------------------------- times


def _diurnal(g: np.random.Generator, n: int, tz: int, active_days: np.ndarray, start: int) -> np.ndarray:
    """Sessions of a few requests a minute or two apart, at waking hours of the account's zone."""
    sizes = 1 + g.exponential(3.0, size=n).astype(np.int64)
    cs = np.cumsum(sizes)
    m = int(np.searchsorted(cs, n)) + 1
    sizes = sizes[:m]
    sizes[-1] -= int(cs[m - 1]) - n
    day = g.choice(active_days, size=m)
    hour = g.choice(24, size=m, p=DIURNAL)
    t0 = start + day * DAY_MS + ((hour - tz) % 24) * HOUR_MS + g.integers(0, HOUR_MS, size=m)
    gaps = 4_000 + g.exponential(75_000.0, size=n).astype(np.int64)
    first = np.cumsum(sizes) - sizes
    gaps[first] = 0
    cum = np.cumsum(gaps)
    return np.repeat(t0, sizes) + cum - np.repeat(cum[first], sizes)


def _steady(g: np.random.Generator, n: int, t0: int, t1: int, cv: float) -> np.ndarray:
    """A script's pace: gamma gaps with coefficient of variation `cv`, n requests spread over [t0, t1)."""
    shape = 1.0 / max(cv, 0.05) ** 2
    c = np.cumsum(g.gamma(shape, 1.0, size=n + 1))
    return t0 + ((t1 - t0) * (c[:n] / c[n])).astype(np.int64)


def schedule_requests(plan: list, seed: int, days: int, start: int) -> tuple[np.ndarray, np.ndarray]:
    """Every request's (time, account index), sorted by time, then account."""
    g = make_rng(seed, S_TIMES, len(plan), days)
    span = days * DAY_MS
    end = start + span
    weekday0 = dt.datetime.fromtimestamp(start / 1000, tz=dt.timezone.utc).weekday()
    weekdays = np.array([d for d in range(days) if (weekday0 + d) % 7 < 5] or list(range(days)))
    ts = np.empty(sum(a.n for a in plan), dtype=np.int64)
    acct = np.empty(len(ts), dtype=np.int32)
    at = 0
    for a in plan:
        n, role = a.n, a.role
        if role in ("casual", "chat"):
            lo = 1 if a.pop.key == "casual" else min(days, 3 if role == "chat" else max(1, days * 2 // 3))
            k = int(g.integers(lo, max(lo, min(days, n)) + 1))
            t = _diurnal(g, n, a.tz, np.sort(g.choice(days, size=k, replace=False)), start)
        elif role == "integration":
            if a.timing == "steady":
                t = _steady(g, n, start, end, a.cv)
            elif a.timing == "business":
                day = g.choice(weekdays, size=n)
                hour = g.integers(8, 18, size=n)
                t = start + day * DAY_MS + ((hour - a.tz) % 24) * HOUR_MS + g.integers(0, HOUR_MS, size=n)
            else:  # a nightly batch from 02:00 local, a few hours long
                day = np.sort(g.integers(0, days, size=n))
                t = (
                    start
                    + day * DAY_MS
                    + ((2 - a.tz) % 24) * HOUR_MS
                    + (g.beta(2.0, 5.0, size=n) * 3 * HOUR_MS).astype(np.int64)
                )
        elif role == "eval_run":
            t0 = start + int(g.integers(0, max(1, span - 4 * HOUR_MS)))
            t = t0 + np.sort(g.uniform(0, g.uniform(0.5, 3.0) * HOUR_MS, size=n)).astype(np.int64)
        elif role == "ring":
            k, n_acc = a.window
            width = min(span, 3 * DAY_MS)
            step = (span - width) // max(1, n_acc - 1)
            t0 = start + min(k * step, span - width) + int(g.integers(0, HOUR_MS))
            t = _steady(g, n, t0, min(end, t0 + width), a.cv)
        else:  # bulk and probe: around the clock, the whole log
            t = _steady(g, n, start, end, a.cv)
        t = np.where(t >= end, t - span, t)  # a late session that runs past the end wraps to the start
        ts[at : at + n] = np.sort(t)
        acct[at : at + n] = a.index
        at += n
    order = np.lexsort((acct, ts))
    return ts[order], acct[order]


# --------------------------------------------------------------------------- records
