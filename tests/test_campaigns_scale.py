"""The linking step of campaigns at a million accounts (issue 13): grouping, pooling and judging a
million accounts' fingerprints finds the one swarm among them and flags nobody else. Its speed is
a benchmark figure (docs/campaigns.md), not asserted here."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from fastscan.params import _key
from fastscan.score.campaigns import FP_MIN_REQUESTS, find_campaigns
from fastscan.score.model import CLUSTER_MIN_REQUESTS
from fastscan.state import AccountState, F

N = 1_000_000
SWARM = 20_000


def test_a_million_accounts_one_swarm():
    rng = np.random.default_rng(0)
    st = AccountState()
    ids = [f"a{i:07d}" for i in range(N)]
    st._map_ids(ids)
    req = rng.integers(1, 60, N)
    st.sums[:N, F["requests"]] = req
    # people: 2,000 combinations of settings (max_tokens, temperature, system prompt, model);
    # the swarm: its own settings on every account
    combo = rng.integers(0, 2000, N)
    swarm = np.arange(N) < SWARM
    acct = np.arange(N)
    for keys in (
        _key(0, np.where(swarm, 40, 41 + combo % 5)),
        _key(1, np.where(swarm, 6, combo % 21)),
        _key(2, np.zeros(N, np.int64)),
        _key(4, np.where(swarm, 0, 1 + (combo // 21) % 4095)),
    ):
        st.params.add(acct, keys, req)
    st._map_models(["m0", "m1"])
    st.model_counts.add(acct, np.where(swarm, 1, combo % 2), req)
    day0 = 1_756_684_800_000
    accounts = pa.table(
        {
            "account_id": ids,
            "requests": req,
            "prompt_tokens": req * 30,
            "completion_tokens": req * np.where(swarm, 1500, 200),
            "first_seen": pa.array(np.full(N, day0), pa.timestamp("ms", tz="UTC")),
            "last_seen": pa.array(np.full(N, day0 + 20 * 86_400_000), pa.timestamp("ms", tz="UTC")),
            "extraction_score": rng.random(N) * 0.3,
            "flagged": np.zeros(N, dtype=bool),
            "reasons": pa.array([""] * N, pa.string()),
            "completion_tokens_per_request": np.where(swarm, 1500.0, 200.0),
            "completion_prompt_ratio": np.where(swarm, 50.0, 6.7),
            "long_output_rate": np.where(swarm, 1.0, 0.0),
            "reasoning_prompt_rate": np.where(swarm, 0.5, 0.0),
            "samples_per_request": np.ones(N),
        }
    )
    out, campaigns = find_campaigns(st, accounts, 0.5, 50)
    flagged = out.column("flagged").to_numpy(zero_copy_only=False)
    assert not flagged[~swarm].any()
    assert np.array_equal(flagged[swarm], req[swarm] >= CLUSTER_MIN_REQUESTS)
    harvesting = campaigns.filter(campaigns.column("harvesting"))
    fingerprinted = int((req[swarm] >= FP_MIN_REQUESTS).sum())  # fewer requests: too few to say
    assert harvesting.num_rows == 1 and harvesting.column("accounts")[0].as_py() == fingerprinted
    assert harvesting.column("campaign_id")[0].as_py() == "campaign-a0000000"
    # people group by their settings, and no group is one giant component
    assert campaigns.num_rows > 1000 and max(campaigns.column("accounts").to_pylist()) < 5 * SWARM
