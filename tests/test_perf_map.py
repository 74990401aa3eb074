"""bench/perf_map.py: the map that lets perf name the numba kernels of a scan."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench"


def test_the_map_names_each_kernel_and_its_helpers_without_overlaps(tmp_path, cli_env):
    """A scan's kernels, loaded from the disk cache, are mapped function by function: the JSON
    decoder's entry point and the helpers it calls that LLVM left out of line (its message roles,
    and on some CPUs its byte copy: its record state machine and string scans are inlined into it)
    each under its own name, at addresses that never overlap."""
    log = tmp_path / "log.jsonl"
    lines = [
        f'{{"account_id":"acct_{i % 7}","prompt":"say \\"{i}\\"\\nplease","completion":"ok {i}",'
        f'"prompt_tokens":{i},"completion_tokens":3,"model":"m"}}'
        for i in range(200)
    ]
    log.write_text("\n".join(lines) + "\n")
    out = tmp_path / "perf.map"
    run = subprocess.run(
        [sys.executable, str(BENCH / "perf_map.py"), str(log), "--scans", "0", "--map", str(out)],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr
    rows = [line.split(" ", 2) for line in out.read_text().splitlines()]
    assert f"({len(rows)} functions)" in run.stderr
    spans = [(int(a, 16), int(n, 16), name) for a, n, name in rows]
    assert all(n > 0 for _, n, _ in spans)
    assert all(a + n <= b for (a, n, _), (b, _, _) in zip(spans, spans[1:])), "overlapping functions"
    names = {name for _, _, name in spans}
    decoder = "json_records.scan_records:"
    assert decoder + "json_records.scan_records" in names
    # the byte copy is left out of line when LLVM compiles for an AVX-512 CPU and inlined for an
    # AVX2 one: it is not asked for by name
    assert decoder + "messages.role_code" in names
    assert decoder + "json_records.scan_records [python wrapper]" in names
