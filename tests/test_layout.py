"""The layout keeps its promises: imports run one way, no file holds too many ideas, the kernels
are where the design card puts them and importable as fastscan.kernels."""

from __future__ import annotations

from pathlib import Path

import pytest

import fastscan

grimp = pytest.importorskip("grimp", reason="grimp (in the test extra) draws the import graph")

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 500

# Top to bottom: a module may import from its own layer or the layers below, never above.
LAYERS = [
    "fastscan.cli",
    "fastscan.cli_parser",
    "fastscan.run",
    "fastscan.score",
    "fastscan.report",
    "fastscan.partial",
    "fastscan.state",
    "fastscan.prepared",
    {"fastscan.sketches", "fastscan.counts", "fastscan.config"},
    "fastscan.read",
    {"fastscan.buffers", "fastscan.parallel"},
    "fastscan.kernels",
    "fastscan.errors",
]


@pytest.fixture(scope="module")
def graph():
    return grimp.build_graph("fastscan", cache_dir=None)


def strongly_connected(graph) -> list[set[str]]:
    """Tarjan's components of the module import graph (imports inside functions included)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[set[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.find_modules_directly_imported_by(v)):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.add(w)
                if w == v:
                    break
            out.append(comp)

    for v in sorted(graph.modules):
        if v not in index:
            visit(v)
    return out


def test_the_graph_follows_the_kernels(graph):
    assert "fastscan.kernels.text" in graph.modules
    assert "fastscan.kernels.text" in graph.find_modules_directly_imported_by("fastscan.prepared")
    assert "fastscan.kernels.prompts" in graph.find_modules_directly_imported_by("fastscan.state")


def test_no_import_cycles(graph):
    cycles = [sorted(c) for c in strongly_connected(graph) if len(c) > 1]
    assert cycles == []


def test_layers_import_one_way(graph):
    illegal = graph.find_illegal_dependencies_for_layers(layers=LAYERS)
    assert sorted(f"{d.importer} -> {d.imported}" for d in illegal) == []


def test_synth_stands_apart(graph):
    """The demo's generator uses nothing of the scanner (and the scanner nothing of it but the CLI)."""
    synth = {m for m in graph.modules if m.startswith("fastscan.synth")}
    for m in synth:
        assert {i for i in graph.find_modules_directly_imported_by(m) if not i.startswith("fastscan.synth")} == set()
    users = {m for s in synth for m in graph.find_modules_that_directly_import(s) if m not in synth}
    assert users == {"fastscan.cli"}


def test_no_library_file_over_the_limit():
    files = sorted((ROOT / "fastscan").rglob("*.py")) + sorted((ROOT / "kernels").glob("*.py"))
    long = {str(f.relative_to(ROOT)): n for f in files if (n := len(f.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def test_kernels_live_at_the_top_and_import_as_fastscan_kernels():
    import fastscan.kernels

    assert Path(fastscan.kernels.__file__).resolve().parent == ROOT / "kernels"
    assert (ROOT / "fastscan" / "kernels").resolve() == ROOT / "kernels"


def test_the_public_surface():
    for name in fastscan.__all__:
        assert getattr(fastscan, name) is not None, name
    assert issubclass(fastscan.ClusterError, fastscan.FastscanError)
    assert (ROOT / "fastscan" / "py.typed").exists()
