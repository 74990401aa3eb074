"""`fastscan demo`, the README's first command: it writes its log and labels, scans them, and
prints what the README says it prints."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_demo_prints_what_the_readme_shows(tmp_path, cli_env):
    text = README.read_text(encoding="utf-8")
    said = re.search(
        r"What `fastscan demo --top (\d+)` prints \(lines cut here at (\d+) characters.*?```\n(.*?)```", text, re.S
    )
    assert said, "the README's block of what the demo prints"
    top, width, block = int(said.group(1)), int(said.group(2)), said.group(3)
    run = subprocess.run(
        [sys.executable, "-m", "fastscan", "demo", "--top", str(top), "--dir", str(tmp_path / "demo")],
        env=cli_env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stderr
    printed = "".join(line[:width].rstrip() + "\n" for line in run.stdout.splitlines())
    assert printed == block
    assert (tmp_path / "demo" / "report.csv").stat().st_size > 0
    assert (tmp_path / "demo" / "labels.csv").stat().st_size > 0
