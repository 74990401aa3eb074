"""The documentation agrees with the code: links resolve, cited pages exist, the weights table is
the fitted weights, the README stays short and its commands are .ci/run's."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from fastscan.score.model import TERMS, term_name
from fastscan.score.weights import BIAS, FIT, WEIGHTS

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted([ROOT / "README.md", ROOT / "CONTRIBUTING.md", ROOT / "CHANGELOG.md", *(ROOT / "docs").glob("*.md")])
LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page):
    broken = []
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if "://" in target or target.startswith("#"):
            continue
        path = target.split("#", 1)[0]
        if not (page.parent / path).exists():
            broken.append(target)
    assert broken == []


def test_every_docs_page_is_in_the_readme_index():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [p.name for p in (ROOT / "docs").glob("*.md") if f"(docs/{p.name})" not in readme]
    assert missing == []


def test_pages_cited_by_the_code_exist():
    cited = set()
    for f in [*(ROOT / "fastscan").rglob("*.py"), *(ROOT / "kernels").glob("*.py"), *(ROOT / "tests").glob("*.py")]:
        cited |= set(re.findall(r"docs/[a-z-]+\.md", f.read_text(encoding="utf-8")))
    assert cited, "the code cites no docs page: this test would check nothing"
    assert sorted(c for c in cited if not (ROOT / c).exists()) == []


def test_readme_stays_short():
    assert len((ROOT / "README.md").read_bytes()) < 15_000


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    command = 'python3 -m pip install -e ".[test]" && python3 -m pytest -q -n auto'
    assert command in readme
    assert 'python3 -m pip install -e ".[test]"' in ci and "python3 -m pytest -q -n auto" in ci


def weight_table(text: str) -> dict[str, float]:
    """{term: weight} from the rows of docs/score.md's table (`a × b` is the product a*b)."""
    out = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4:
            continue
        m = re.fullmatch(r"`([a-z_ ×]+)`", cells[1])
        if m and re.fullmatch(r"[0-9.]+", cells[3]):
            out[m.group(1).replace(" × ", "*")] = float(cells[3])
    return out


def test_the_weights_table_is_the_fitted_weights():
    text = (ROOT / "docs" / "score.md").read_text(encoding="utf-8")
    table = weight_table(text)
    assert table == {name: round(w, 2) for name, w in WEIGHTS.items()}
    assert set(WEIGHTS) == {term_name(t) for t in TERMS}
    bias = re.search(r"\| \| bias \| \| [−-]([0-9.]+) \|", text)
    assert bias is not None and -float(bias.group(1)) == round(BIAS, 2)


def test_the_weights_file_is_what_the_fitting_script_writes():
    spec = importlib.util.spec_from_file_location("fit_score", ROOT / "bench" / "fit_score.py")
    assert spec is not None and spec.loader is not None
    fit_score = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fit_score)
    w = [WEIGHTS[term_name(t)] for t in TERMS]
    keys = ("seeds", "scale", "formats", "accounts", "extractors", "l2")
    text = fit_score.weights_source(
        w, BIAS, *(FIT[k] for k in keys), FIT["date"], FIT.get("free"), FIT.get("others_from")
    )
    assert text == (ROOT / "fastscan" / "score" / "weights.py").read_text(encoding="utf-8")
