"""Per-account partial results that merge associatively: batch into file, file into scan,
worker into cluster (`Partial`, in fastscan.partial, adds a scan's counts and rejects to it).

Everything kept is an integer (sums, minima, maxima, counts) or a set chosen by hash, so the
result never depends on chunk size, batch boundaries, file order or worker count:
- `sums`: int64 counters per account (FEATURES);
- `ts_min`, `ts_max`: first and last request time;
- the sketches of fastscan.sketches: exact sparse counts per (account, key) and a bottom-k
  sample of each account's distinct prompts with their MinHash signatures.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fastscan.buffers import Scratch
from fastscan.config import ScanConfig
from fastscan.counts import MAX_STATE_COUNT, SparseCounts, SparseMin
from fastscan.errors import StateFormatError
from fastscan.names import NameTable
from fastscan.parallel import map_ordered, row_ranges
from fastscan.params import IDENTITY_KINDS, TextKeys, merge_labels
from fastscan.prepared import FEATURES, F, Prepared, prepare
from fastscan.sketches import (
    INT64_MAX,
    INT64_MIN,
    SIG_DTYPE,
    TEXT_BYTES,
    PromptSample,
    group_by_account_hash,
    order_by_account_hash,
    prompt_ends,
)

STATE_FORMAT = 9  # version of AccountState.to_bytes(); bump when the layout changes
# also read: 7 kept 32-bit signature values, whose low 16 bits are 8's; 8 had no sample budget
# (ScanConfig.sample_budget, and the level it held each account to: every account's S)
OLDER_FORMATS = (7, 8)
# the SparseCounts of an AccountState, serialized as <name>_keys / <name>_counts
_SPARSE = ("hours", "model_counts", "model_tokens", "model_timed", "model_first", "params")


class AccountState:
    """The per-account partial result of any part of a scan; `update` with canonical batches,
    `merge` with another state of the same config."""

    def __init__(self, config: ScanConfig | None = None):
        self.config = config or ScanConfig()
        self.config.check()
        self._ids = NameTable()  # the accounts (or other entities), numbered as they come
        self._id_order = np.zeros(0, dtype=np.int64)  # id_order(), for as many entities as it has
        self._ids_in_order = pa.array([], pa.string())  # ids_in_order(), likewise
        self.sums = np.zeros((0, len(FEATURES)), dtype=np.int64)
        self.ts_min = np.zeros(0, dtype=np.int64)
        self.ts_max = np.zeros(0, dtype=np.int64)
        self._models = NameTable()  # the model names ("" for none), numbered as they come
        self.hours = SparseCounts()  # (account, hour_key) -> requests
        self.model_counts = SparseCounts()  # (account, model index) -> requests
        self.model_tokens = SparseCounts()  # (account, model index) -> completion tokens
        self.model_timed = SparseCounts()  # (account, model index) -> requests with a time
        self.model_first = SparseMin()  # (account, model index) -> hour_key of its first request
        self.params = SparseCounts()  # (account, request parameter value, see param_keys) -> requests
        # owner / network / client key -> (its smallest text, whether other texts share its bucket)
        self.param_labels: dict[int, tuple[str, bool]] = {}
        cfg = self.config
        self.sample = PromptSample(cfg.sample_size, cfg.num_perm, cfg.keep_text, cfg.sample_budget)
        self._params: tuple[np.ndarray, np.ndarray] | None = None
        self._text_keys = TextKeys()  # the text kinds' buckets, each text's hashed once
        self._scratch = Scratch()  # update()'s work arrays, kept from one batch to the next

    # -- accounts
    @property
    def ids(self) -> list[str]:
        """The entity ids, in number order."""
        return self._ids.names

    @property
    def index(self) -> dict[str, int]:
        """Entity id -> its number."""
        return self._ids.index

    def id_order(self) -> np.ndarray:
        """int64[n_accounts]: the entity numbers in id order (by code point, as Python sorts str),
        sorted once per number of entities (ids are only ever added): finish() wants it in
        several places, and sorting 83 K ids as a numpy string array took 0.03-0.08 s each time."""
        n = self.n_accounts
        if len(self._id_order) != n:
            ids = self.ids
            self._id_order = np.array(sorted(range(n), key=ids.__getitem__), dtype=np.int64)
        return self._id_order

    def ids_in_order(self) -> pa.Array:
        """The entity ids in id_order(), as an Arrow string array (the report's account_id column,
        and each cluster's id taken by its label), made once per number of entities."""
        if len(self._ids_in_order) != self.n_accounts:
            self._ids_in_order = pa.array(self.ids, pa.string()).take(pa.array(self.id_order()))
        return self._ids_in_order

    @property
    def models(self) -> list[str]:
        """The model names, in number order."""
        return self._models.names

    def model_rank(self) -> np.ndarray:
        """int64[models]: each model's place among the names in code-point order (Python's, as
        id_order; a numpy string array would drop a trailing NUL and tie two names). Ties between
        models go by this rank, and fingerprints name a model by it (fastscan.score)."""
        names = self.models
        rank = np.empty(len(names), dtype=np.int64)
        rank[sorted(range(len(names)), key=names.__getitem__)] = np.arange(len(names))
        return rank

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

    def _map_ids(self, ids: list | pa.Array) -> np.ndarray:
        """int32 per id (a list or a string array): its number, new ids numbered as they come."""
        out = self._ids.number_list(ids) if isinstance(ids, list) else self._ids.number(ids)
        self._grow(len(self.ids))
        return out

    def _map_models(self, names: list | pa.Array) -> np.ndarray:
        return self._models.number_list(names) if isinstance(names, list) else self._models.number(names)

    # -- update
    def minhash_params(self) -> tuple[np.ndarray, np.ndarray]:
        """The MinHash permutations (a, b) of this state's config, made once."""
        if self._params is None:
            from fastscan.kernels.hashing import minhash_params

            self._params = minhash_params(self.config.num_perm, self.config.minhash_seed)
        return self._params

    def update(self, batch: pa.RecordBatch | Prepared) -> None:
        """Fold one canonical RecordBatch, or one `prepare`d already, into the state."""
        if not isinstance(batch, Prepared):
            if batch.num_rows == 0:
                return
            batch = prepare(batch, self.config, self._scratch)
        self.fold(batch)

    def fold(self, p: Prepared) -> None:
        """Add what a prepared batch holds to the state (fastscan.prepared)."""
        from fastscan.kernels import aggregate

        if p.num_rows == 0:
            return
        account = self._map_ids(p.ids)
        values = p.values
        aggregate.sum_by_account(account, values, self.sums)
        aggregate.minmax_by_account(account, p.ts_ms, p.ts_valid, self.ts_min, self.ts_max)
        # the sparse tables and the sample take int64 accounts: converted once here for all of them
        account64 = account.astype(np.int64)
        # the system prompt's keys come prepared (no label is noted for them); the state keys the
        # identity texts, whose labels it notes when its TextKeys first meets them
        identities = self._text_keys.keys(p.batch, self.config.entity, self.param_labels, IDENTITY_KINDS)
        for keys in p.param_keys + identities:
            self.params.add(account64, keys)
        midx = self._map_models(p.models).astype(np.int64)
        self.model_counts.add(account64, midx)
        self.model_tokens.add(account64, midx, values[:, F["completion_tokens"]])
        if p.ts_valid.any():  # the rows with a time, taken out once for the three tables of hours
            timed_account, timed_model = account64[p.ts_valid], midx[p.ts_valid]
            self.hours.add(timed_account, p.hours)
            self.model_timed.add(timed_account, timed_model)
            self.model_first.add(timed_account, timed_model, p.hours)

        t0 = values[:, F["temperature_zero"]]
        text_words = (p.word_start, p.n_words, p.words)
        self._update_sample(account64, p.phash, t0, p.n_words, p.head, p.tail, p.p_off, p.p_data, p.p_valid, text_words)

    def _update_sample(
        self,
        account: np.ndarray,
        phash: np.ndarray,
        t0: np.ndarray,
        n_words: np.ndarray,
        head: np.ndarray,
        tail: np.ndarray,
        p_off: np.ndarray,
        p_data: np.ndarray,
        p_valid: np.ndarray,
        text_words: tuple[np.ndarray, np.ndarray, np.ndarray],
    ) -> None:
        from fastscan.kernels.prompts import minhash_from_words

        s = self.sample
        s.ensure_accounts(self.n_accounts)
        cand = p_valid & (phash <= s.threshold[account])
        if not cand.any():
            return
        rows = np.flatnonzero(cand)
        key_a = account[rows]
        key_h = phash[rows]
        order, starts = group_by_account_hash(key_a, key_h)
        counts = np.diff(np.append(starts, len(order))).astype(np.int64)
        counts0 = np.add.reduceat(t0[rows[order]].astype(np.int64), starts)  # of those, at temperature 0
        first = order[starts]  # each distinct (account, prompt)'s first candidate
        uniq_rows = rows[first]
        # a prompt already in the sample only adds to its count: no signature to compute again
        if len(s.account):
            from fastscan.kernels.aggregate import find_pairs

            pos = np.empty(len(starts), dtype=np.int64)
            find_pairs(s.account, s.prompt_hash, key_a[first], key_h[first], pos)
            known = pos >= 0
            if known.any():
                s.count[pos[known]] += counts[known]  # distinct positions: one per (account, prompt)
                s.count0[pos[known]] += counts0[known]
                uniq_rows, counts, counts0 = uniq_rows[~known], counts[~known], counts0[~known]
                if len(uniq_rows) == 0:
                    return
        a, b = self.minhash_params()
        u = uniq_rows.astype(np.int64)
        # a text the store holds already shares its signature; the others' are computed straight
        # into the sample's store
        slots, fresh = s.text_slots(phash[u])
        todo, at = u[fresh], slots[fresh]
        word_start, n_words, words = text_words

        def minhash_part(part: tuple[int, int]) -> None:
            lo, hi = part
            k = self.config.shingle_words
            minhash_from_words(word_start, n_words, words, todo[lo:hi], k, a, b, s.store, at[lo:hi], p_off, p_data)

        map_ordered(minhash_part, row_ranges(len(todo)))
        ends = prompt_ends(p_off, p_data, u) if s.text is not None else None
        s.add_slots(account[u], phash[u], counts, counts0, n_words[u], head[u], tail[u], slots, ends)

    # -- merge
    def merge(self, other: AccountState) -> AccountState:
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
        model_map = self._map_models(other.models).astype(np.int64)
        a, pk, c = other.params.items()
        if len(a):
            self.params.add(mapping[a], pk, c)
        merge_labels(self.param_labels, other.param_labels)
        for name in ("model_counts", "model_tokens", "model_timed", "model_first"):
            a, mk, c = getattr(other, name).items()
            if len(a):
                getattr(self, name).add(mapping[a], model_map[mk], c)
        self.sample.merge(other.sample, mapping)
        return self

    def compact(self) -> None:
        self.compact_tables()
        self.sample.compact()

    def compact_tables(self) -> None:
        """Merge each sparse table's waiting pairs (the prompt sample's are left waiting)."""
        for name in _SPARSE:
            getattr(self, name).compact()

    # -- serialization
    def to_bytes(self) -> bytes:
        """The whole state as one Arrow IPC stream (a single row of large_list columns, the config
        in the schema metadata). Holds account ids, model names, counters, hashes and MinHash
        signatures; prompt text only when the config keeps it (the ends of each sampled prompt,
        `ScanConfig.keep_text`). `from_bytes` restores a state that reports identically."""
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
            "sample_count0": s.count0,
            "sample_n_words": s.n_words,
            "sample_head_hash": s.head_hash,
            "sample_tail_hash": s.tail_hash,
            "sample_sig": s.signatures().ravel(),
            "sample_threshold": s.threshold[:n],
        }
        if s.text is not None:
            arrays["sample_text"] = s.text.ravel()
        labels = sorted(self.param_labels.items())
        arrays["label_keys"] = np.array([k for k, _ in labels], dtype=np.int64)
        arrays["label_texts"] = pa.array([t for _, (t, _) in labels], pa.large_string())
        arrays["label_shared"] = np.array([sh for _, (_, sh) in labels], dtype=np.bool_)
        for name in _SPARSE:
            sc = getattr(self, name)
            arrays[f"{name}_keys"], arrays[f"{name}_counts"] = sc.keys, sc.counts
        cols, names = [], []
        for name, values in arrays.items():
            values = values if isinstance(values, pa.Array) else pa.array(np.ascontiguousarray(values))
            cols.append(pa.LargeListArray.from_arrays(pa.array([0, len(values)], pa.int64()), values))
            names.append(name)
        meta = {
            b"fastscan.state_format": str(STATE_FORMAT).encode(),
            b"fastscan.config": json.dumps(self.config.to_dict(), sort_keys=True).encode(),
            b"fastscan.features": ",".join(FEATURES).encode(),
            b"fastscan.sample_level": str(s.size).encode(),
        }
        batch = pa.RecordBatch.from_arrays(cols, names=names).replace_schema_metadata(meta)
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, batch.schema) as w:
            w.write_batch(batch)
        return sink.getvalue().to_pybytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> AccountState:
        """The state `to_bytes` wrote. ValueError if `data` is not one (or of another format)."""
        try:
            reader = pa.ipc.open_stream(pa.py_buffer(data))
            batch = reader.read_next_batch()
        except (pa.ArrowInvalid, StopIteration, OSError) as e:
            raise ValueError(f"not a fastscan state: {e}") from None
        meta = batch.schema.metadata or {}
        if not (found := meta.get(b"fastscan.state_format")):
            raise ValueError("not a fastscan state: no state format in its metadata")
        reads = [str(f).encode() for f in (*OLDER_FORMATS, STATE_FORMAT)]
        if found not in reads:
            msg = f"state of format {found.decode(errors='replace')}, from another fastscan version"
            names = [f.decode() for f in reads]
            raise StateFormatError(f"{msg}; this one reads {', '.join(names[:-1])} and {names[-1]}")
        if meta.get(b"fastscan.features") != ",".join(FEATURES).encode():
            raise ValueError("state written by a fastscan with other features")
        config = ScanConfig.from_dict(json.loads(meta[b"fastscan.config"]))

        def col(name: str, dtype: type | None = None) -> Any:
            values = batch.column(name).values
            if dtype is None:
                return values.to_pylist()
            if values.type != pa.from_numpy_dtype(dtype):  # read as written, never converted
                raise ValueError(f"state column {name} of type {values.type}, not {np.dtype(dtype)}")
            return np.array(values.to_numpy(zero_copy_only=False), dtype=dtype)  # a writable copy

        st = cls(config)
        ids = col("ids")
        n = len(ids)
        models = col("models")
        if None in ids or None in models:
            raise ValueError("state with an account or a model without a name")
        st._ids, st._models = NameTable(ids), NameTable(models)
        if len(st.ids) != n or len(st.models) != len(models):
            raise ValueError("state names an account or a model twice")
        st.sums = col("sums", np.int64).reshape(n, len(FEATURES))
        st.ts_min = col("ts_min", np.int64)
        st.ts_max = col("ts_max", np.int64)
        if st.sums.min(initial=0) < 0 or st.sums.max(initial=0) > MAX_STATE_COUNT:
            raise ValueError("state of a negative count, or of one past 2**53 (no scan counts so far)")
        for name in _SPARSE:
            below = len(models) if name.startswith("model_") else 1 << 32  # their keys are models
            getattr(st, name).restore(col(f"{name}_keys", np.int64), col(f"{name}_counts", np.int64), n, below)
        s = st.sample
        s.account = col("sample_account", np.int64)
        s.prompt_hash = col("sample_prompt_hash", np.uint64)
        s.count = col("sample_count", np.int64)
        s.count0 = col("sample_count0", np.int64)
        s.n_words = col("sample_n_words", np.int32)
        s.head_hash = col("sample_head_hash", np.uint64)
        s.tail_hash = col("sample_tail_hash", np.uint64)
        columns = (s.account, s.prompt_hash, s.count, s.count0, s.n_words, s.head_hash, s.tail_hash)
        if len({len(c) for c in columns}) > 1:
            raise ValueError("state sample of columns of unequal lengths")
        _check_sample(s, n)
        sig = col("sample_sig", np.uint32 if found == b"7" else SIG_DTYPE)  # format 7's: 32 bits,
        s.restore_signatures(sig.astype(SIG_DTYPE, copy=False))  # of which format 8 keeps the low 16
        s.threshold = col("sample_threshold", np.uint64)
        if len(s.threshold) != n:
            raise ValueError(f"state sample of {len(s.threshold):,} thresholds for {n:,} accounts")
        level = meta.get(b"fastscan.sample_level", str(config.sample_size).encode())
        if not (level.isdigit() and s.least <= int(level) <= config.sample_size):
            raise ValueError(f"state sample level {level!r} outside {s.least}..{config.sample_size}")
        s.size = int(level)
        if len(s.account) and np.bincount(s.account).max() > s.size:
            raise ValueError(f"state sample holds more than its level of {s.size} prompts for an account")
        if config.keep_text:
            if "sample_text" not in batch.schema.names:
                raise ValueError("state of a scan that keeps text holds none")
            text = col("sample_text", np.uint8)
            if len(text) != len(s.account) * 2 * TEXT_BYTES:
                raise ValueError("state keeps prompt text of another width")
            s.text = text.reshape(len(s.account), 2 * TEXT_BYTES)
        s._live = len(s.account)
        keys, texts, shared = col("label_keys", np.int64), col("label_texts"), col("label_shared", np.bool_)
        if not (len(keys) == len(texts) == len(shared)):
            raise ValueError("state labels of unequal lengths")
        st.param_labels = {int(k): (str(t), bool(sh)) for k, t, sh in zip(keys, texts, shared)}
        return st

    def __reduce__(self) -> tuple[Any, tuple[bytes]]:
        return (AccountState.from_bytes, (self.to_bytes(),))

    def _id_chars(self) -> int:
        """The characters of every id (what a loop over 197,458 ids took 44 ms to add up)."""
        if not self.n_accounts:
            return 0
        return int(pc.sum(pc.utf8_length(self.ids_in_order())).as_py())

    @property
    def nbytes(self) -> int:
        return (
            self.sums.nbytes
            + self.ts_min.nbytes * 2
            + self.hours.nbytes
            + self.model_counts.nbytes
            + self.model_tokens.nbytes
            + self.model_timed.nbytes
            + self.model_first.nbytes
            + self.params.nbytes
            + self.sample.nbytes
            + self._id_chars()
            + 60 * self.n_accounts  # a Python str's own size, about
            + self._ids.nbytes
            + self._models.nbytes
        )


def _check_sample(s: PromptSample, n: int) -> None:
    """ValueError unless the sample read back from a state is one a scan could leave: rows of its
    n accounts, each (account, prompt) once, each counting at least one request and no more at
    temperature 0 than in all."""
    if not len(s.account):
        return
    if s.account.min() < 0 or s.account.max() >= n:
        raise ValueError("state sample of an account the state does not name")
    if s.count.min() < 1 or s.count0.min() < 0 or bool(np.any(s.count0 > s.count)) or s.n_words.min() < 0:
        raise ValueError("state sample of a prompt of no request, or of a negative count")
    if s.count.max() > MAX_STATE_COUNT:
        raise ValueError("state sample of a count past 2**53 (no scan counts so far)")
    order = order_by_account_hash(s.account, s.prompt_hash)
    a, h = s.account[order], s.prompt_hash[order]
    if bool(np.any((a[1:] == a[:-1]) & (h[1:] == h[:-1]))):
        raise ValueError("state sample holds one prompt of an account twice")
