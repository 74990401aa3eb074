"""Per-account partial results that merge associatively: batch into file, file into scan,
worker into cluster.

Everything kept is an integer (sums, minima, maxima, counts) or a set chosen by hash, so the
result never depends on chunk size, batch boundaries, file order or worker count:
- `sums`: int64 counters per account (FEATURES);
- `ts_min`, `ts_max`: first and last request time;
- `SparseCounts`: exact counts per (account, key), e.g. requests per (account, epoch hour), per
  (account, model), completion tokens per (account, model), and requests per (account, model,
  epoch hour) (model_hours, key = model << 20 | hour: when each account first used each model);
  memory grows with distinct pairs, never with records;
- `PromptSample`: per account, the S distinct prompts with the smallest prompt hash (a bottom-k
  sketch), each with its exact multiplicity, MinHash signature, word count and skeleton hashes.
  Bottom-k by a hash is a uniform sample of the distinct prompts that any split of the input
  reproduces exactly; an account with at most S distinct prompts is kept whole.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .buffers import bool_values, float_values, int_values, string_buffers, validity
from .parallel import map_ordered, row_ranges

__all__ = ["ScanConfig", "AccountState", "FEATURES", "SparseCounts", "PromptSample", "STATE_FORMAT"]

STATE_FORMAT = 2   # version of AccountState.to_bytes(); bump when the layout changes
# the SparseCounts of an AccountState, serialized as <name>_keys / <name>_counts
_SPARSE = ("hours", "model_counts", "model_tokens", "model_hours")

HOUR_MS = 3_600_000
MODEL_HOUR_BITS = 20                 # epoch hours below 2**20 (until 2089) fit in model_hours keys
MAX_MODEL_KEY = (1 << 12) - 1        # models beyond the 4095th share the last model_hours key
INT64_MAX = np.iinfo(np.int64).max
INT64_MIN = np.iinfo(np.int64).min
UINT64_MAX = np.uint64(0xFFFFFFFFFFFFFFFF)

FEATURES = (
    "requests",
    "prompt_tokens",
    "completion_tokens",
    "reasoning_tokens",
    "tokens_estimated",      # requests whose token counts fastscan had to estimate
    "hit_max_tokens",        # finish_reason == length, or completion reached max_tokens * n
    "long_output",           # completion tokens per sample >= LONG_OUTPUT_TOKENS
    "logprobs",              # requests asking for logprobs / top_logprobs
    "multi_sample",          # n > 1
    "samples",               # sum of n
    "logit_bias",
    "conversation",          # requests that continue a conversation (earlier messages re-sent)
    "system_prompt",
    "temperature_zero",
    "reasoning_prompt",      # prompts that ask for step-by-step reasoning (kernels.reasoning)
    "timed",                 # requests with a usable timestamp
    "empty_prompt",          # null or wordless prompt text
    "prompted",              # requests with prompt text (null prompts are not)
    "max_tokens_sum",
)
F = {name: i for i, name in enumerate(FEATURES)}
LONG_OUTPUT_TOKENS = 1000


@dataclass(frozen=True)
class ScanConfig:
    """Settings that shape the state; two states merge only if their configs are equal.

    The near-duplicate and cross-account settings (below `near_dup_threshold`) act at finish();
    README "Near-duplicates and templates" defines what each one does.
    """
    num_perm: int = 128             # MinHash permutations (K)
    shingle_words: int = 3          # words per shingle
    skeleton_words: int = 5         # words at each end that make a prompt's skeleton
    sample_size: int = 512          # distinct prompts kept per account (S)
    near_dup_threshold: float = 0.8
    minhash_seed: int = 1
    lsh_rows: int = 0               # rows per LSH band; 0 = chosen from num_perm and the threshold
    bucket_window: int = 16         # cross-account: each prompt is verified against this many bucket mates
    link_min_words: int = 8         # cross-account: shorter prompts never tie accounts together
    popular_accounts: int = 5       # cross-account: a prompt with near-duplicates in more accounts is popular
    link_min_prompts: int = 5       # cross-account: near-duplicate prompts two accounts must share...
    link_min_share: float = 0.2     # ...and as a share of the smaller account's linkable sampled prompts
    template_min_prompts: int = 5   # cross-account: prompts with a skeleton that make it an account's template...
    template_min_share: float = 0.2  # ...and as a share of the account's linkable sampled prompts

    def check(self) -> None:
        if not 1 <= self.shingle_words <= 16:
            raise ValueError("shingle_words must be 1..16")
        if self.num_perm < 8 or self.num_perm % 8:
            raise ValueError("num_perm must be a multiple of 8, at least 8")
        if self.sample_size < 16:
            raise ValueError("sample_size must be at least 16")
        if not 0.0 < self.near_dup_threshold <= 1.0:
            raise ValueError("near_dup_threshold must be in (0, 1]")
        if not 0 <= self.lsh_rows <= self.num_perm:
            raise ValueError("lsh_rows must be 0 (automatic) or 1..num_perm")
        if self.bucket_window < 1:
            raise ValueError("bucket_window must be at least 1")
        if self.popular_accounts < 2 or self.link_min_prompts < 1 or self.template_min_prompts < 1:
            raise ValueError("popular_accounts must be >= 2, link_min_prompts and template_min_prompts >= 1")
        if not (0.0 <= self.link_min_share <= 1.0 and 0.0 <= self.template_min_share <= 1.0):
            raise ValueError("link_min_share and template_min_share must be in [0, 1]")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ScanConfig":
        return cls(**d)


def model_hour_key(model: np.ndarray, hour: np.ndarray) -> np.ndarray:
    """int64 key of (model index, epoch hour) for `model_hours`."""
    m = np.minimum(np.asarray(model, dtype=np.int64), MAX_MODEL_KEY)
    return (m << MODEL_HOUR_BITS) | (np.asarray(hour, dtype=np.int64) & ((1 << MODEL_HOUR_BITS) - 1))


def split_model_hour_key(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    key = np.asarray(key, dtype=np.int64)
    return key >> MODEL_HOUR_BITS, key & ((1 << MODEL_HOUR_BITS) - 1)


class SparseCounts:
    """Exact counts per (account index, key) pair, kept as sorted unique int64 pairs."""

    def __init__(self):
        self.keys = np.zeros(0, dtype=np.int64)     # account << 32 | key
        self.counts = np.zeros(0, dtype=np.int64)
        self._pending_k: list[np.ndarray] = []
        self._pending_c: list[np.ndarray] = []
        self._pending_n = 0

    @staticmethod
    def pack(account: np.ndarray, key: np.ndarray) -> np.ndarray:
        return (account.astype(np.int64) << 32) | (key.astype(np.int64) & 0xFFFFFFFF)

    def add(self, account: np.ndarray, key: np.ndarray, counts: np.ndarray | None = None) -> None:
        packed = self.pack(account, key)
        if counts is None:
            u, c = np.unique(packed, return_counts=True)
            c = c.astype(np.int64)
        else:
            u, inv = np.unique(packed, return_inverse=True)
            c = np.bincount(inv, weights=counts, minlength=len(u)).astype(np.int64)
        self._pending_k.append(u)
        self._pending_c.append(c)
        self._pending_n += len(u)
        if self._pending_n > max(1 << 16, len(self.keys)):
            self.compact()

    def compact(self) -> None:
        if not self._pending_k:
            return
        k = np.concatenate([self.keys, *self._pending_k])
        c = np.concatenate([self.counts, *self._pending_c])
        u, inv = np.unique(k, return_inverse=True)
        self.keys = u
        self.counts = np.bincount(inv, weights=c, minlength=len(u)).astype(np.int64)
        self._pending_k, self._pending_c, self._pending_n = [], [], 0

    def remapped(self, mapping: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(account, key, count) with accounts renumbered through `mapping`."""
        self.compact()
        acct = (self.keys >> 32).astype(np.int64)
        key = self.keys & 0xFFFFFFFF
        return mapping[acct], key, self.counts

    def merge(self, other: "SparseCounts", mapping: np.ndarray) -> None:
        a, k, c = other.remapped(mapping)
        if len(a):
            self.add(a, k, c)

    def items(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(account, key, count) sorted by account then key."""
        self.compact()
        return (self.keys >> 32).astype(np.int64), (self.keys & 0xFFFFFFFF).astype(np.int64), self.counts

    @property
    def nbytes(self) -> int:
        return self.keys.nbytes + self.counts.nbytes + 16 * self._pending_n


class PromptSample:
    """Per account, the `size` distinct prompts with the smallest prompt hash (bottom-k)."""

    def __init__(self, size: int, num_perm: int):
        self.size = size
        self.num_perm = num_perm
        self.account = np.zeros(0, dtype=np.int64)
        self.prompt_hash = np.zeros(0, dtype=np.uint64)
        self.count = np.zeros(0, dtype=np.int64)
        self.n_words = np.zeros(0, dtype=np.int32)
        self.head_hash = np.zeros(0, dtype=np.uint64)
        self.tail_hash = np.zeros(0, dtype=np.uint64)
        self.sig = np.zeros((0, num_perm), dtype=np.uint32)
        self.threshold = np.zeros(0, dtype=np.uint64)   # per account: hashes above are never kept
        self._pending: list[tuple] = []
        self._pending_n = 0
        self._live = 0

    def ensure_accounts(self, n: int) -> None:
        if n > len(self.threshold):
            grow = np.full(max(n, 2 * len(self.threshold)) - len(self.threshold), UINT64_MAX, dtype=np.uint64)
            self.threshold = np.concatenate([self.threshold, grow])

    def add(self, account, prompt_hash, count, n_words, head_hash, tail_hash, sig) -> None:
        self._pending.append((account.astype(np.int64), prompt_hash, count.astype(np.int64),
                              n_words.astype(np.int32), head_hash, tail_hash, sig))
        self._pending_n += len(account)
        if self._pending_n > max(1 << 15, self._live):
            self.compact()

    def compact(self) -> None:
        if not self._pending:
            return
        parts = [(self.account, self.prompt_hash, self.count, self.n_words, self.head_hash, self.tail_hash,
                  self.sig)] + self._pending
        account = np.concatenate([p[0] for p in parts])
        phash = np.concatenate([p[1] for p in parts])
        count = np.concatenate([p[2] for p in parts])
        self._pending, self._pending_n = [], 0
        order = np.lexsort((phash, account))
        account, phash = account[order], phash[order]
        first = np.ones(len(order), dtype=np.bool_)
        first[1:] = (account[1:] != account[:-1]) | (phash[1:] != phash[:-1])
        starts = np.flatnonzero(first)
        count = np.add.reduceat(count[order], starts) if len(starts) else count[:0]
        keep_rows = order[starts]
        account, phash = account[starts], phash[starts]
        # rank of each distinct prompt within its account; keep the `size` smallest hashes
        acct_first = np.ones(len(account), dtype=np.bool_)
        acct_first[1:] = account[1:] != account[:-1]
        group_start = np.maximum.accumulate(np.where(acct_first, np.arange(len(account)), 0))
        rank = np.arange(len(account)) - group_start
        keep = rank < self.size
        self.account = account[keep]
        self.prompt_hash = phash[keep]
        self.count = count[keep]
        rows = keep_rows[keep]
        # the wide columns are gathered from each part straight into their new place: the
        # signatures are most of the state, and concatenating them first held a third copy
        bounds = np.cumsum([0] + [len(p[0]) for p in parts])
        by_part = np.argsort(rows, kind="stable")     # rows of part k: by_part[cut[k]:cut[k + 1]]
        cut = np.searchsorted(rows[by_part], bounds)
        from .kernels.aggregate import copy_rows
        wide = []
        for col in (3, 4, 5, 6):
            out = np.empty((len(rows),) + parts[0][col].shape[1:], dtype=parts[0][col].dtype)
            for k, p in enumerate(parts):
                sel = by_part[cut[k]:cut[k + 1]]
                if len(sel) == 0:
                    continue
                if col == 6:
                    copy_rows(np.ascontiguousarray(p[col]), rows[sel] - bounds[k], out, sel)
                else:
                    out[sel] = p[col][rows[sel] - bounds[k]]
            wide.append(out)
        del parts
        self.n_words, self.head_hash, self.tail_hash, self.sig = wide
        self._live = len(self.account)
        full = rank == self.size - 1
        self.ensure_accounts(int(account.max()) + 1 if len(account) else 0)
        self.threshold[account[full]] = phash[full]

    def merge(self, other: "PromptSample", mapping: np.ndarray) -> None:
        other.compact()
        if len(other.account):
            self.ensure_accounts(int(mapping.max()) + 1)
            self.add(mapping[other.account], other.prompt_hash, other.count, other.n_words,
                     other.head_hash, other.tail_hash, other.sig)
        self.compact()

    @property
    def nbytes(self) -> int:
        return (self.sig.nbytes + self.account.nbytes * 5 + self.threshold.nbytes
                + sum(p[6].nbytes + 40 * len(p[0]) for p in self._pending))


class AccountState:
    """The per-account partial result of any part of a scan; `update` with canonical batches,
    `merge` with another state of the same config."""

    def __init__(self, config: ScanConfig | None = None):
        self.config = config or ScanConfig()
        self.config.check()
        self.ids: list[str] = []
        self.index: dict[str, int] = {}
        self.sums = np.zeros((0, len(FEATURES)), dtype=np.int64)
        self.ts_min = np.zeros(0, dtype=np.int64)
        self.ts_max = np.zeros(0, dtype=np.int64)
        self.models: list[str] = []
        self.model_index: dict[str, int] = {}
        self.hours = SparseCounts()        # (account, epoch hour) -> requests
        self.model_counts = SparseCounts()  # (account, model index) -> requests
        self.model_tokens = SparseCounts()  # (account, model index) -> completion tokens
        self.model_hours = SparseCounts()   # (account, model << 20 | epoch hour) -> requests
        self.sample = PromptSample(self.config.sample_size, self.config.num_perm)
        self._params = None

    # -- accounts
    @property
    def n_accounts(self) -> int:
        return len(self.ids)

    def _grow(self, n: int) -> None:
        cap = self.sums.shape[0]
        if n <= cap:
            return
        new = max(n, 2 * cap, 1024)
        sums = np.zeros((new, len(FEATURES)), dtype=np.int64)
        sums[:cap] = self.sums
        self.sums = sums
        self.ts_min = np.concatenate([self.ts_min, np.full(new - cap, INT64_MAX, dtype=np.int64)])
        self.ts_max = np.concatenate([self.ts_max, np.full(new - cap, INT64_MIN, dtype=np.int64)])
        self.sample.ensure_accounts(new)

    def _map_ids(self, ids: list) -> np.ndarray:
        index = self.index
        out = np.empty(len(ids), dtype=np.int32)
        for i, a in enumerate(ids):
            j = index.get(a)
            if j is None:
                j = len(self.ids)
                index[a] = j
                self.ids.append(a)
            out[i] = j
        self._grow(len(self.ids))
        return out

    def _map_models(self, names: list) -> np.ndarray:
        out = np.empty(len(names), dtype=np.int64)
        for i, m in enumerate(names):
            j = self.model_index.get(m)
            if j is None:
                j = len(self.models)
                self.model_index[m] = j
                self.models.append(m)
            out[i] = j
        return out

    # -- update
    def minhash_params(self):
        if self._params is None:
            from .kernels.hashing import minhash_params
            self._params = minhash_params(self.config.num_perm, self.config.minhash_seed)
        return self._params

    def update(self, batch: pa.RecordBatch) -> None:
        """Fold one canonical RecordBatch into the state."""
        from .kernels import aggregate, reasoning, text
        n = batch.num_rows
        if n == 0:
            return
        enc = pc.dictionary_encode(batch.column("account_id"))
        account = self._map_ids(enc.dictionary.to_pylist())[np.asarray(enc.indices, dtype=np.int64)]
        account = np.ascontiguousarray(account, dtype=np.int32)

        prompt = batch.column("prompt")
        p_off, p_data, p_valid = string_buffers(prompt)
        phash = np.empty(n, dtype=np.uint64)
        n_words = np.empty(n, dtype=np.int32)
        head = np.empty(n, dtype=np.uint64)
        tail = np.empty(n, dtype=np.uint64)
        asks = np.empty(n, dtype=np.bool_)

        def text_pass(part):
            lo, hi = part
            text.hash_prompts(p_off[lo:hi + 1], p_data, p_valid[lo:hi], self.config.skeleton_words,
                              phash[lo:hi], n_words[lo:hi], head[lo:hi], tail[lo:hi])
            reasoning.asks_for_reasoning(p_off[lo:hi + 1], p_data, p_valid[lo:hi], asks[lo:hi])

        map_ordered(text_pass, row_ranges(n))

        values = self._record_features(batch, n_words, p_off, p_data, p_valid, asks)
        aggregate.sum_by_account(account, values, self.sums)

        ts = batch.column("ts_ms")
        ts_valid = validity(ts)
        ts_vals = int_values(ts)
        aggregate.minmax_by_account(account, ts_vals, ts_valid, self.ts_min, self.ts_max)
        if ts_valid.any():
            hrs = np.maximum(ts_vals[ts_valid] // HOUR_MS, 0)
            self.hours.add(account[ts_valid], hrs)

        model = batch.column("model")
        menc = pc.dictionary_encode(pc.fill_null(model, ""))
        midx = self._map_models(menc.dictionary.to_pylist())[np.asarray(menc.indices, dtype=np.int64)]
        self.model_counts.add(account, midx)
        self.model_tokens.add(account, midx, values[:, F["completion_tokens"]])
        if ts_valid.any():
            self.model_hours.add(account[ts_valid], model_hour_key(midx[ts_valid], hrs))

        self._update_sample(account, phash, n_words, head, tail, p_off, p_data, p_valid)

    def _record_features(self, batch, n_words, p_off, p_data, p_valid, asks) -> np.ndarray:
        from .kernels import text
        n = batch.num_rows
        vals = np.zeros((n, len(FEATURES)), dtype=np.int64)
        vals[:, F["requests"]] = 1
        pt = batch.column("prompt_tokens")
        ct = batch.column("completion_tokens")
        pt_valid, ct_valid = validity(pt), validity(ct)
        pt_v, ct_v = int_values(pt), int_values(ct)
        estimated = ~pt_valid | ~ct_valid
        if (~pt_valid).any():
            # estimate only the rows that lack a count (count_tokens gives 0 for the others)
            est = np.empty(n, dtype=np.int64)
            text.count_tokens(p_off, p_data, p_valid & ~pt_valid, est)
            s_off, s_data, s_valid = string_buffers(batch.column("system_prompt"))
            est_sys = np.empty(n, dtype=np.int64)
            text.count_tokens(s_off, s_data, s_valid & ~pt_valid, est_sys)
            pt_v = np.where(pt_valid, pt_v, est + est_sys)
        samples = np.maximum(int_values(batch.column("n"), 1), 1)
        if (~ct_valid).any():
            c_off, c_data, c_valid = string_buffers(batch.column("completion"))
            est = np.empty(n, dtype=np.int64)
            text.count_tokens(c_off, c_data, c_valid & ~ct_valid, est)
            ct_v = np.where(ct_valid, ct_v, est * samples)
        max_tokens = batch.column("max_tokens")
        mt_valid, mt = validity(max_tokens), int_values(max_tokens)
        finish = batch.column("finish_reason")
        by_finish = pc.fill_null(pc.equal(finish, "length"), False).to_numpy(zero_copy_only=False)
        hit = by_finish | (mt_valid & (mt > 0) & (ct_v >= mt * samples))
        temp = float_values(batch.column("temperature"))
        vals[:, F["prompt_tokens"]] = pt_v
        vals[:, F["completion_tokens"]] = ct_v
        vals[:, F["reasoning_tokens"]] = int_values(batch.column("reasoning_tokens"))
        vals[:, F["tokens_estimated"]] = estimated
        vals[:, F["hit_max_tokens"]] = hit
        vals[:, F["long_output"]] = ct_v // samples >= LONG_OUTPUT_TOKENS
        vals[:, F["logprobs"]] = bool_values(batch.column("logprobs"))
        vals[:, F["multi_sample"]] = samples > 1
        vals[:, F["samples"]] = samples
        vals[:, F["logit_bias"]] = bool_values(batch.column("logit_bias"))
        vals[:, F["conversation"]] = int_values(batch.column("n_prior_messages")) > 0
        vals[:, F["system_prompt"]] = validity(batch.column("system_prompt")) & (
            pc.fill_null(pc.binary_length(batch.column("system_prompt")), 0).to_numpy(zero_copy_only=False) > 0)
        vals[:, F["temperature_zero"]] = temp == 0.0
        vals[:, F["reasoning_prompt"]] = asks
        vals[:, F["timed"]] = validity(batch.column("ts_ms"))
        vals[:, F["empty_prompt"]] = n_words <= 0
        vals[:, F["prompted"]] = p_valid
        vals[:, F["max_tokens_sum"]] = mt
        return vals

    def _update_sample(self, account, phash, n_words, head, tail, p_off, p_data, p_valid) -> None:
        from .kernels import text
        s = self.sample
        s.ensure_accounts(self.n_accounts)
        cand = p_valid & (phash <= s.threshold[account])
        if not cand.any():
            return
        rows = np.flatnonzero(cand)
        key_a = account[rows].astype(np.int64)
        key_h = phash[rows]
        order = np.lexsort((key_h, key_a))
        a_s, h_s = key_a[order], key_h[order]
        first = np.ones(len(order), dtype=np.bool_)
        first[1:] = (a_s[1:] != a_s[:-1]) | (h_s[1:] != h_s[:-1])
        starts = np.flatnonzero(first)
        counts = np.diff(np.append(starts, len(order))).astype(np.int64)
        uniq_rows = rows[order[starts]]
        # a prompt already in the sample only adds to its count: no signature to compute again
        if len(s.account):
            from .kernels.aggregate import find_pairs
            pos = np.empty(len(starts), dtype=np.int64)
            find_pairs(s.account, s.prompt_hash, a_s[starts], h_s[starts], pos)
            known = pos >= 0
            if known.any():
                s.count[pos[known]] += counts[known]     # distinct positions: one per (account, prompt)
                uniq_rows, counts = uniq_rows[~known], counts[~known]
                if len(uniq_rows) == 0:
                    return
        a, b = self.minhash_params()
        sig = np.empty((len(uniq_rows), self.config.num_perm), dtype=np.uint32)
        uniq_rows = uniq_rows.astype(np.int64)

        def minhash_part(part):
            lo, hi = part
            text.minhash_signatures(p_off, p_data, p_valid, uniq_rows[lo:hi], self.config.shingle_words,
                                    a, b, sig[lo:hi])

        map_ordered(minhash_part, row_ranges(len(uniq_rows)))
        s.add(account[uniq_rows], phash[uniq_rows], counts, n_words[uniq_rows], head[uniq_rows],
              tail[uniq_rows], sig)

    # -- merge
    def merge(self, other: "AccountState") -> "AccountState":
        """Fold `other` into this state (in place) and return self."""
        if other.config != self.config:
            raise ValueError("cannot merge states of different scan configurations")
        if other.n_accounts == 0:
            return self
        mapping = self._map_ids(other.ids).astype(np.int64)
        k = other.n_accounts
        np.add.at(self.sums, mapping, other.sums[:k])
        np.minimum.at(self.ts_min, mapping, other.ts_min[:k])
        np.maximum.at(self.ts_max, mapping, other.ts_max[:k])
        self.hours.merge(other.hours, mapping)
        model_map = self._map_models(other.models) if other.models else np.zeros(0, dtype=np.int64)
        a, mk, c = other.model_counts.items()
        if len(a):
            self.model_counts.add(mapping[a], model_map[mk], c)
        a, mk, c = other.model_tokens.items()
        if len(a):
            self.model_tokens.add(mapping[a], model_map[mk], c)
        a, key, c = other.model_hours.items()
        if len(a):
            m, h = split_model_hour_key(key)
            self.model_hours.add(mapping[a], model_hour_key(model_map[m], h), c)
        self.sample.merge(other.sample, mapping)
        return self

    def compact(self) -> None:
        self.hours.compact()
        self.model_counts.compact()
        self.model_tokens.compact()
        self.model_hours.compact()
        self.sample.compact()

    # -- serialization
    def to_bytes(self) -> bytes:
        """The whole state as one Arrow IPC stream (a single row of large_list columns, the config
        in the schema metadata). Holds account ids, model names, counters, hashes and MinHash
        signatures: never prompt text. `from_bytes` restores a state that reports identically."""
        self.compact()
        n = self.n_accounts
        s = self.sample
        arrays = {
            "ids": pa.array(self.ids, pa.large_string()),
            "models": pa.array(self.models, pa.large_string()),
            "sums": self.sums[:n].ravel(),
            "ts_min": self.ts_min[:n],
            "ts_max": self.ts_max[:n],
            "sample_account": s.account,
            "sample_prompt_hash": s.prompt_hash,
            "sample_count": s.count,
            "sample_n_words": s.n_words,
            "sample_head_hash": s.head_hash,
            "sample_tail_hash": s.tail_hash,
            "sample_sig": s.sig.ravel(),
            "sample_threshold": s.threshold[:n],
        }
        for name in _SPARSE:
            sc = getattr(self, name)
            arrays[f"{name}_keys"], arrays[f"{name}_counts"] = sc.keys, sc.counts
        cols, names = [], []
        for name, values in arrays.items():
            values = values if isinstance(values, pa.Array) else pa.array(np.ascontiguousarray(values))
            cols.append(pa.LargeListArray.from_arrays(pa.array([0, len(values)], pa.int64()), values))
            names.append(name)
        meta = {b"fastscan.state_format": str(STATE_FORMAT).encode(),
                b"fastscan.config": json.dumps(self.config.to_dict(), sort_keys=True).encode(),
                b"fastscan.features": ",".join(FEATURES).encode()}
        batch = pa.RecordBatch.from_arrays(cols, names=names).replace_schema_metadata(meta)
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, batch.schema) as w:
            w.write_batch(batch)
        return sink.getvalue().to_pybytes()

    @classmethod
    def from_bytes(cls, data) -> "AccountState":
        """The state `to_bytes` wrote. ValueError if `data` is not one (or of another format)."""
        try:
            reader = pa.ipc.open_stream(pa.py_buffer(data))
            batch = reader.read_next_batch()
        except (pa.ArrowInvalid, StopIteration, OSError) as e:
            raise ValueError(f"not a fastscan state: {e}") from None
        meta = batch.schema.metadata or {}
        if meta.get(b"fastscan.state_format") != str(STATE_FORMAT).encode():
            raise ValueError(f"not a fastscan state of format {STATE_FORMAT}")
        if meta.get(b"fastscan.features") != ",".join(FEATURES).encode():
            raise ValueError("state written by a fastscan with other features")
        config = ScanConfig.from_dict(json.loads(meta[b"fastscan.config"]))

        def col(name, dtype=None):
            values = batch.column(name).values
            if dtype is None:
                return values.to_pylist()
            return np.array(values.to_numpy(zero_copy_only=False), dtype=dtype)   # a writable copy

        st = cls(config)
        ids = col("ids")
        n = len(ids)
        st.ids = ids
        st.index = {a: i for i, a in enumerate(ids)}
        st.models = col("models")
        st.model_index = {m: i for i, m in enumerate(st.models)}
        st.sums = col("sums", np.int64).reshape(n, len(FEATURES))
        st.ts_min = col("ts_min", np.int64)
        st.ts_max = col("ts_max", np.int64)
        for name in _SPARSE:
            sc = getattr(st, name)
            sc.keys, sc.counts = col(f"{name}_keys", np.int64), col(f"{name}_counts", np.int64)
        s = st.sample
        s.account = col("sample_account", np.int64)
        s.prompt_hash = col("sample_prompt_hash", np.uint64)
        s.count = col("sample_count", np.int64)
        s.n_words = col("sample_n_words", np.int32)
        s.head_hash = col("sample_head_hash", np.uint64)
        s.tail_hash = col("sample_tail_hash", np.uint64)
        s.sig = col("sample_sig", np.uint32).reshape(len(s.account), config.num_perm)
        s.threshold = col("sample_threshold", np.uint64)
        s._live = len(s.account)
        return st

    def __reduce__(self):
        return (AccountState.from_bytes, (self.to_bytes(),))

    def save(self, path) -> None:
        """Write `to_bytes()` to `path` atomically (temp file + rename), readable by its owner only."""
        from .statedir import write_private
        write_private(path, self.to_bytes())

    @classmethod
    def load(cls, path) -> "AccountState":
        with open(path, "rb") as fh:
            return cls.from_bytes(fh.read())

    @property
    def nbytes(self) -> int:
        return (self.sums.nbytes + self.ts_min.nbytes * 2 + self.hours.nbytes + self.model_counts.nbytes
                + self.model_tokens.nbytes + self.model_hours.nbytes
                + self.sample.nbytes + sum(len(x) + 60 for x in self.ids))
