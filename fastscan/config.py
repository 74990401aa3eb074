"""Scan settings that shape the state: two states merge only if their configs are equal."""

from __future__ import annotations

from dataclasses import asdict, dataclass

# the units a scan can score, and the canonical column that names each (fastscan.read.canonical)
ENTITY_COLUMNS = {"account": "account_id", "org": "org_id", "api_key": "api_key_id", "end_user": "end_user", "ip": "ip"}


@dataclass(frozen=True)
class ScanConfig:
    """Settings that shape the state; two states merge only if their configs are equal.

    The near-duplicate and cross-account settings (below `near_dup_threshold`) act at finish();
    docs/near-duplicates.md defines what each one does.
    """

    num_perm: int = 128  # MinHash permutations (K)
    shingle_words: int = 3  # words per shingle
    skeleton_words: int = 5  # words at each end that make a prompt's skeleton
    sample_size: int = 512  # distinct prompts kept per account (S)
    # distinct prompts kept over all accounts (0: no limit); past it, the accounts with the most
    # keep fewer each, never fewer than min(64, S) (docs/bounds.md)
    sample_budget: int = 4_000_000
    near_dup_threshold: float = 0.8
    minhash_seed: int = 1
    lsh_rows: int = 0  # rows per LSH band; 0 = chosen from num_perm and the threshold
    bucket_window: int = 16  # cross-account: each prompt is verified against this many bucket mates
    link_min_words: int = 8  # cross-account: shorter prompts never tie accounts together
    popular_accounts: int = 5  # cross-account: a prompt with near-duplicates in more accounts is popular
    link_min_prompts: int = 5  # cross-account: near-duplicate prompts two accounts must share...
    link_min_share: float = 0.2  # ...and as a share of the smaller account's linkable sampled prompts
    template_min_prompts: int = 5  # cross-account: prompts with a skeleton that make it an account's template...
    template_min_share: float = 0.2  # ...and as a share of the account's linkable sampled prompts
    keep_text: bool = False  # keep the ends of each sampled prompt, for --include-text (docs/report.md)
    entity: str = "account"  # the unit scored: account, org, api_key, end_user or ip (docs/campaigns.md)

    def check(self) -> None:
        if not 1 <= self.shingle_words <= 16:
            raise ValueError("shingle_words must be 1..16")
        if self.num_perm < 8 or self.num_perm % 8:
            raise ValueError("num_perm must be a multiple of 8, at least 8")
        if self.sample_size < 16:
            raise ValueError("sample_size must be at least 16")
        if self.sample_budget < 0:
            raise ValueError("sample_budget must be 0 (no limit) or more")
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

        if self.entity not in ENTITY_COLUMNS:
            raise ValueError(f"entity must be one of {', '.join(ENTITY_COLUMNS)}, not {self.entity!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ScanConfig:
        """The config `to_dict` gave; ValueError for a setting it does not know or of another type
        than its default's (a state written by another version, or damaged)."""
        if not isinstance(d, dict):
            raise ValueError(f"scan settings are not a mapping: {d!r:.80}")
        if unknown := sorted(set(d) - set(cls.__dataclass_fields__)):
            raise ValueError(f"unknown scan settings: {', '.join(unknown)}")
        for name, value in d.items():
            want = type(getattr(cls, name))
            if type(value) is not want and not (want is float and type(value) is int):
                raise ValueError(f"scan setting {name} is {value!r}, not of type {want.__name__}")
        config = cls(**d)
        config.check()
        return config
