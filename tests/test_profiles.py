"""bench/profiles.py: each variant of make_log's built-in profile changes what it says it changes,
and make_log.py builds a labelled log from it. Needs ../shared; skipped where it is absent."""

from __future__ import annotations

import csv
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
from shared import MAKE_LOG, needs_make_log, needs_raw_prompts

# bench/ is not a package: the module is loaded from its file
_spec = importlib.util.spec_from_file_location(
    "profiles", Path(__file__).resolve().parents[1] / "bench" / "profiles.py"
)
assert _spec is not None and _spec.loader is not None
profiles = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(profiles)

pytestmark = needs_make_log


@pytest.mark.parametrize("name", sorted(profiles.VARIANTS))
def test_a_variant_changes_the_populations_only_and_reads_back(name, tmp_path):
    """...and the log's span, for long_window: its populations over 4x the days."""
    base, got = profiles.default_profile(), profiles.profile(name)
    assert got != base and got["populations"] != base["populations"]
    span = {"days"} if name == "long_window" else set()
    assert got["days"] == (4 * base["days"] if span else base["days"])
    assert {k: v for k, v in got.items() if k not in {"populations", *span}} == {
        k: v for k, v in base.items() if k not in {"populations", *span}
    }
    assert [p.get("campaign", p["kind"]) for p in got["populations"]] == [
        p.get("campaign", p["kind"]) for p in base["populations"]
    ]
    assert profiles.default_profile() == base  # the built-in profile itself is left alone
    assert json.loads(profiles.write_profile(name, tmp_path / "p.json").read_text()) == got


def test_an_unknown_variant_is_named_with_the_known_ones():
    with pytest.raises(KeyError, match="no profile variant 'nope'; variants: quietsolo"):
        profiles.profile("nope")


@needs_raw_prompts
def test_make_log_builds_a_variant(tmp_path):
    out, labels = tmp_path / "log.jsonl", tmp_path / "labels.csv"
    path = profiles.write_profile("hydra_many", tmp_path / "p.json")
    cmd = [sys.executable, str(MAKE_LOG), "--out", str(out), "--labels", str(labels), "--seed", "3"]
    subprocess.run([*cmd, "--scale", "0.05", "--profile", str(path)], check=True, capture_output=True)
    with labels.open(newline="") as fh:
        hydra = [r for r in csv.DictReader(fh) if r["campaign"] == "hydra"]
    assert len(hydra) == 20  # 400 accounts at scale 0.05
    assert all(int(r["requests"]) <= 80 for r in hydra)
