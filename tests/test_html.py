"""The analyst's HTML report: self-contained, no prompt text, and it renders in a real browser
without making a single network request (issue 14). The browser test needs Chromium (.ci/run
installs Debian's package) and keeps a screenshot in $FASTSCAN_ARTIFACTS (default test-artifacts/)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import orjson
import pytest
from logs import records, write_jsonl

from fastscan import scan
from fastscan.report.html import write_html

pytest.importorskip("vl_convert", reason="the HTML report's charts need vl-convert (pip install 'fastscan[report]')")

ROOT = Path(__file__).resolve().parents[1]
SECRET = "zebracorn"
SECTIONS = (
    "summary",
    "distribution",
    "accounts",
    "activity",
    "campaigns",
    "clusters",
    "templates",
    "models",
    "quality",
)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or ""
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    recs = records(12, 60, seed=4)
    for i, r in enumerate(recs):
        if i % 7 == 0:
            r["prompt"] += f" {SECRET}"
    d = tmp_path_factory.mktemp("html")
    p = d / "log.jsonl"
    write_jsonl(p, [orjson.dumps(r) for r in recs] + [b"{broken"])
    return scan([p])


@pytest.fixture(scope="module")
def page(report, tmp_path_factory):
    path = tmp_path_factory.mktemp("page") / "report.html"
    write_html(report, path)
    return path


def test_the_page_is_self_contained_and_holds_no_prompt_text(report, page):
    text = page.read_text(encoding="utf-8")
    for section in SECTIONS:
        assert f'id="{section}"' in text, section
    assert f"{report.stats.records_read:,}" in text
    top = report.top(1).column("account_id")[0].as_py()
    assert report.flagged.num_rows > 0 and top in text
    assert text.count("<svg") >= 4  # distribution, two activity charts, models
    low = text.lower()
    for fetch in ("<script", "<link", "<iframe", "<img", "@import", "url(", 'src="http', "src='http"):
        assert fetch not in low, fetch
    assert "default-src 'none'" in text  # and the page forbids itself any request
    assert SECRET not in text


def page_requests(page: Path, tmp_path: Path) -> tuple[str, set[str]]:
    """(the DOM Chromium rendered, the URLs the page itself asked for). Chromium's net log marks
    what a page requests with the page's origin as initiator ("null" for a file); the browser's
    own background traffic says "not an origin" and is not the page's doing."""
    profile = tmp_path / f"profile-{page.stem}"
    netlog = tmp_path / f"netlog-{page.stem}.json"
    dom = subprocess.run(
        [
            CHROMIUM,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            f"--log-net-log={netlog}",
            "--net-log-capture-mode=Everything",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    events = json.loads(netlog.read_text(encoding="utf-8"))["events"]
    asked = set()
    for e in events:
        params = e.get("params")
        if isinstance(params, dict) and "url" in params and params.get("initiator") not in (None, "not an origin"):
            asked.add(params["url"])
    return dom, asked


@pytest.mark.skipif(not CHROMIUM, reason="needs Chromium (Debian's chromium package; .ci/run installs it)")
def test_the_page_renders_in_a_browser_without_a_network_request(report, page, tmp_path):
    # the check itself: a page that does fetch something is caught (loopback, a closed port)
    control = tmp_path / "control.html"
    control.write_text('<html><body>x<img src="http://127.0.0.1:9/x.png"></body></html>')
    assert page_requests(control, tmp_path)[1] == {"http://127.0.0.1:9/x.png"}

    dom, asked = page_requests(page, tmp_path)
    for section in SECTIONS:
        assert f'id="{section}"' in dom, section
    assert "Flagged and near-threshold accounts" in dom and f"{report.stats.records_read:,}" in dom
    if report.campaigns is not None and report.campaigns.num_rows:  # the top campaign is shown
        assert report.campaigns.column("campaign_id")[0].as_py() in dom
    assert dom.count("<svg") >= 4
    assert asked == set()
    profile = tmp_path / "profile-shot"

    artifacts = Path(os.environ.get("FASTSCAN_ARTIFACTS") or ROOT / "test-artifacts")
    artifacts.mkdir(parents=True, exist_ok=True)
    shot = artifacts / "html-report.png"
    subprocess.run(
        [
            CHROMIUM,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            "--window-size=1400,2400",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        capture_output=True,
        timeout=120,
    )
    assert shot.exists() and shot.stat().st_size > 20_000


def test_the_cli_writes_the_page_and_checks_its_name_first(run_cli, tmp_path):
    p = tmp_path / "log.jsonl"
    write_jsonl(p, [orjson.dumps(r) for r in records(6, 30)])
    run = ["scan", p, "--top", "0"]
    ok = run_cli(*run, "--html", tmp_path / "r.html")
    assert ok.returncode == 0, ok.stderr
    assert 'id="summary"' in (tmp_path / "r.html").read_text(encoding="utf-8")
    bad = run_cli(*run, "--html", tmp_path / "r.txt")
    assert bad.returncode == 2 and "records" not in bad.stderr and not (tmp_path / "r.txt").exists()
