"""Random draws in blocks, from independent numpy streams (same seed, same draws)."""

from __future__ import annotations

import math

import numpy as np


def _floats(gen: np.random.Generator, block: int):
    while True:
        yield from gen.random(block).tolist()


def _normals(gen: np.random.Generator, block: int):
    while True:
        yield from gen.standard_normal(block).tolist()


class Rand:
    """Scalar draws as plain Python floats, pulled from a numpy generator in blocks.

    A numpy scalar call costs about a microsecond; a float from a pre-drawn block costs a tenth
    of that, and a log needs a few dozen per record.
    """

    def __init__(self, gen: np.random.Generator, block: int = 1 << 14):
        self.gen = gen
        self.u = u = _floats(gen, block).__next__
        self.z = _normals(gen, block).__next__

        def pick(seq):  # a closure: the hottest call of the generator, no attribute lookups
            return seq[int(u() * len(seq))]

        self.pick = pick

    def randint(self, lo: int, hi: int) -> int:
        return lo + int(self.u() * (hi - lo + 1))

    def uniform(self, lo: float, hi: float) -> float:
        return lo + (hi - lo) * self.u()

    def lognormal(self, median: float, sigma: float) -> float:
        return median * math.exp(sigma * self.z())

    def weighted(self, pairs):
        x = self.u() * sum(w for _, w in pairs)
        for v, w in pairs:
            x -= w
            if x < 0:
                return v
        return pairs[-1][0]

    def sample(self, seq, k: int) -> list:
        pool = list(seq)
        out = []
        for _ in range(min(k, len(pool))):
            out.append(pool.pop(int(self.u() * len(pool))))
        return out


class Indices:
    """Uniform integers in [0, high) as Python ints, handed out as list slices."""

    def __init__(self, gen: np.random.Generator, high: int, block: int = 1 << 16):
        self.gen, self.high, self.block = gen, high, block
        self.buf: list = []
        self.pos = 0

    def take(self, k: int) -> list:
        p = self.pos
        if p + k > len(self.buf):
            self.buf = self.buf[p:] + self.gen.integers(0, self.high, self.block + k).tolist()
            p = 0
        self.pos = p + k
        return self.buf[p : p + k]


def make_rng(seed: int, *stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, *stream])


# --------------------------------------------------------------------------- vocabularies
