"""The analyst's report: one self-contained HTML file that works offline.

Charts are Vega-Lite specifications rendered to SVG by vl-convert (the Vega and Vega-Lite
toolchain compiled into a Python wheel: no browser, no Node.js, no network), and inlined. The page
has no script, no stylesheet or font to fetch, no image but inline SVG: opened from a laptop in an
air-gapped room it shows everything, and it makes no request of any kind. It holds no prompt text.
"""

from __future__ import annotations

import contextlib
import html
import os
from collections.abc import Collection
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fastscan.errors import FastscanError, OutputError
from fastscan.report.evidence import clusters_table
from fastscan.report.report import NEAR_THRESHOLD, Report

__all__ = ["render_html", "write_html"]

MAX_ROWS = 100  # accounts listed in the flagged / near-threshold table
MAX_LINES = 8  # accounts drawn in the activity charts

_CSS = "".join(
    (
        'body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;',
        "margin:0;color:#1d2430;background:#f6f7f9}",
        "header{background:#1d2430;color:#fff;padding:18px 32px}",
        "header h1{margin:0;font-size:22px}",
        "header p{margin:4px 0 0;color:#c9d1dc}",
        "main{padding:8px 32px 40px;max-width:1400px}",
        "section{background:#fff;border:1px solid #e1e4ea;border-radius:8px;margin:18px 0;padding:16px 20px}",
        "h2{font-size:17px;margin:0 0 10px}",
        ".cards{display:flex;flex-wrap:wrap;gap:12px}",
        ".card{border:1px solid #e1e4ea;border-radius:6px;padding:10px 14px;min-width:120px}",
        ".card b{display:block;font-size:20px}",
        ".card.alert b{color:#b42318}",
        "table{border-collapse:collapse;width:100%;font-size:13px}",
        "th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #eef0f3;vertical-align:top}",
        "th{background:#f3f5f8;font-weight:600}",
        "td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}",
        "td.id{font-family:ui-monospace,Menlo,Consolas,monospace;white-space:nowrap}",
        ".flag{color:#b42318;font-weight:600}",
        "td.ids{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}",
        "td.text{font-style:italic;max-width:60ch}",
        ".muted{color:#667085}",
        ".charts{display:flex;flex-wrap:wrap;gap:16px}",
        ".charts svg{max-width:100%;height:auto}",
    )
)


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _n(x: Any) -> str:
    return f"{int(x):,}"


def _svg(spec: dict) -> str:
    try:
        import vl_convert
    except ImportError:
        raise FastscanError(
            "the HTML report draws its charts with vl-convert: pip install 'fastscan[report]'"
        ) from None
    spec = {"$schema": "https://vega.github.io/schema/vega-lite/v5.json", "config": {"view": {"stroke": None}}, **spec}
    return vl_convert.vegalite_to_svg(spec)


def _table(head: list[str], rows: list[list[str]], num: Collection[int] = ()) -> str:
    th = "".join(f'<th class="num">{_e(h)}</th>' if i in num else f"<th>{_e(h)}</th>" for i, h in enumerate(head))
    body = "".join("<tr>" + "".join(r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _td(x: Any, cls: str = "") -> str:
    return f'<td class="{cls}">{_e(x)}</td>' if cls else f"<td>{_e(x)}</td>"


def _summary(r: Report) -> str:
    s = r.stats
    flagged = r.flagged.num_rows
    cards = [
        ("records read", _n(s.records_read), ""),
        ("scored", _n(s.records_scored), ""),
        ("rejected", _n(s.records_rejected), "alert" if s.records_rejected else ""),
        ("accounts", _n(s.accounts), ""),
        ("flagged", _n(flagged), "alert" if flagged else ""),
        ("files", _n(s.files), ""),
        ("MB read", f"{s.bytes_read / 1e6:,.1f}", ""),
    ]
    body = "".join(f'<div class="card {c}"><b>{v}</b>{_e(k)}</div>' for k, v, c in cards)
    return f'<section id="summary"><h2>Summary</h2><div class="cards">{body}</div></section>'


def _quality(r: Report) -> str:
    s = r.stats
    parts = []
    if s.rejected_by_reason:
        rows = [[_td(k), _td(_n(v), "num")] for k, v in sorted(s.rejected_by_reason.items(), key=lambda kv: -kv[1])]
        parts.append(_table(["rejected because", "records"], rows, {1}))
        ex = [[_td(e["file"]), _td(e["line"], "num"), _td(e["reason"])] for e in r.rejected_examples[:20]]
        parts.append("<h3>First rejected records</h3>" + _table(["file", "line", "reason"], ex, {1}))
    else:
        parts.append("<p>Every record read was scored.</p>")
    if r.file_errors:
        rows = [[_td(e["file"]), _td(e["line"] or "", "num"), _td(e["reason"])] for e in r.file_errors[:50]]
        parts.append("<h3>Warnings</h3>" + _table(["input", "line", "warning"], rows, {1}))
    return '<section id="quality"><h2>Data quality</h2>' + "".join(parts) + "</section>"


def _distribution(r: Report) -> str:
    score = r.accounts.column("extraction_score").to_numpy(zero_copy_only=False)
    edges = np.linspace(0.0, 1.0, 41)
    counts, _ = np.histogram(score, bins=edges)
    values = [{"score": round(float(edges[i]), 3), "accounts": int(c)} for i, c in enumerate(counts)]
    spec: dict[str, Any] = {
        "width": 640,
        "height": 220,
        "layer": [
            {
                "data": {"values": values},
                "mark": {"type": "bar", "color": "#4c78a8", "align": "left"},
                "encoding": {
                    "x": {
                        "field": "score",
                        "type": "quantitative",
                        "bin": {"binned": True, "step": 0.025},
                        "scale": {"domain": [0, 1]},
                        "title": "extraction_score",
                    },
                    "y": {
                        "field": "accounts",
                        "type": "quantitative",
                        "scale": {"type": "symlog"},
                        "title": "accounts (symlog scale)",
                    },
                },
            },
            {
                "data": {"values": [{"t": r.threshold}]},
                "mark": {"type": "rule", "color": "#b42318", "strokeWidth": 2},
                "encoding": {"x": {"field": "t", "type": "quantitative"}},
            },
        ],
    }
    note = f"<p class='muted'>The red line is the flag threshold ({r.threshold:g}).</p>"
    return (
        f'<section id="distribution"><h2>Score distribution</h2><div class="charts">{_svg(spec)}</div>{note}</section>'
    )


def _accounts(r: Report) -> str:
    t = r.accounts
    near = t.filter(pc.greater_equal(t.column("extraction_score"), NEAR_THRESHOLD * r.threshold))
    idx = pc.sort_indices(near, sort_keys=[("extraction_score", "descending"), ("account_id", "ascending")])
    rows = []
    for a in near.take(idx[:MAX_ROWS]).to_pylist():
        rows.append(
            [
                _td(a["account_id"], "id"),
                f'<td class="num{" flag" if a["flagged"] else ""}">{a["extraction_score"]:.2f}</td>',
                _td("flagged" if a["flagged"] else "near", "flag" if a["flagged"] else "muted"),
                _td(_n(a["requests"]), "num"),
                _td(_n(a["completion_tokens"]), "num"),
                _td(f"{a['near_dup_rate']:.2f}", "num"),
                _td(a.get("campaign_id") or (a.get("cluster_id") if (a.get("cluster_size") or 1) > 1 else "")),
                _td(a["reasons"]),
            ]
        )
    more = f"<p class='muted'>{near.num_rows - MAX_ROWS:,} more not shown.</p>" if near.num_rows > MAX_ROWS else ""
    head = [
        "account_id",
        "score",
        "",
        "requests",
        "completion tokens",
        "near-dup rate",
        "campaign (or cluster)",
        "reasons",
    ]
    body = _table(head, rows, {1, 3, 4, 5}) if rows else "<p>No account scores near the threshold.</p>"
    return f'<section id="accounts"><h2>Flagged and near-threshold accounts</h2>{body}{more}</section>'


def _activity(r: Report) -> str:
    if r.activity is None or r.activity.num_rows == 0:
        return '<section id="activity"><h2>Activity</h2><p>No account scores near the threshold.</p></section>'
    top = r.top(MAX_LINES)
    top = top.filter(pc.greater_equal(top.column("extraction_score"), NEAR_THRESHOLD * r.threshold))
    names = top.column("account_id").to_pylist()
    act = r.activity.filter(pc.is_in(r.activity.column("account_id"), pa.array(names, pa.string())))
    days: dict[tuple[str, str], int] = {}
    hod: dict[tuple[str, int], int] = {}
    for row in act.to_pylist():
        d = row["hour"].strftime("%Y-%m-%d")
        days[(row["account_id"], d)] = days.get((row["account_id"], d), 0) + row["requests"]
        hod[(row["account_id"], row["hour"].hour)] = hod.get((row["account_id"], row["hour"].hour), 0) + row["requests"]
    t = r.accounts
    eligible = t.filter(pc.greater_equal(t.column("requests"), r.min_requests))
    base = eligible if eligible.num_rows else t
    per_day = pc.divide(
        pc.cast(base.column("requests"), pa.float64()), pc.max_element_wise(base.column("active_days"), 1)
    )
    typical_day = float(np.median(per_day.to_numpy(zero_copy_only=False))) if base.num_rows else 0.0
    day_values = [{"account": a, "day": d, "requests": n} for (a, d), n in sorted(days.items())]
    daily = {
        "width": 620,
        "height": 240,
        "title": "requests per day",
        "layer": [
            {
                "data": {"values": day_values},
                "mark": {"type": "line", "point": True},
                "encoding": {
                    "x": {"field": "day", "type": "temporal", "title": None},
                    "y": {"field": "requests", "type": "quantitative", "title": "requests"},
                    "color": {"field": "account", "type": "nominal", "legend": {"orient": "bottom", "columns": 2}},
                },
            },
            {
                "data": {"values": [{"y": typical_day}]},
                "mark": {"type": "rule", "strokeDash": [6, 4], "color": "#667085"},
                "encoding": {"y": {"field": "y", "type": "quantitative"}},
            },
        ],
    }
    totals = {a: sum(n for (b, _), n in hod.items() if b == a) for a in names}
    hod_values = [{"account": a, "hour": h, "share": n / max(totals[a], 1)} for (a, h), n in sorted(hod.items())]
    if r.hour_of_day is not None:
        all_n = r.hour_of_day.column("requests").to_pylist()
        tot = max(sum(all_n), 1)
        hod_values += [{"account": "(all accounts)", "hour": h, "share": n / tot} for h, n in enumerate(all_n)]
    hourly = {
        "width": 620,
        "height": 240,
        "title": "share of requests by hour of day (UTC)",
        "data": {"values": hod_values},
        "mark": {"type": "line", "interpolate": "monotone"},
        "encoding": {
            "x": {"field": "hour", "type": "quantitative", "scale": {"domain": [0, 23]}},
            "y": {"field": "share", "type": "quantitative", "axis": {"format": "%"}},
            "color": {"field": "account", "type": "nominal", "legend": {"orient": "bottom", "columns": 2}},
            "strokeDash": {
                "condition": {"test": "datum.account === '(all accounts)'", "value": [6, 4]},
                "value": [1, 0],
            },
        },
    }
    note = (
        f"<p class='muted'>The {len(names)} highest-scoring accounts. The dashed line of the first chart is the "
        f"typical account ({typical_day:,.0f} requests per active day); of the second, the whole log's rhythm.</p>"
    )
    return (
        f'<section id="activity"><h2>Activity of the top accounts</h2><div class="charts">'
        f"{_svg(daily)}{_svg(hourly)}</div>{note}</section>"
    )


def _campaigns(r: Report) -> str:
    """The campaigns: groups of accounts judged on their traffic taken together."""
    c = r.campaigns
    if c is None or c.num_rows == 0:
        return (
            '<section id="campaigns"><h2>Campaigns</h2><p>No group of accounts shares a request fingerprint, '
            "templates or near-duplicates.</p></section>"
        )
    rows = []
    for x in c.slice(0, 50).to_pylist():
        ids = x["members"]
        shown = ", ".join(ids[:12]) + (f" and {len(ids) - 12:,} more" if len(ids) > 12 else "")
        when = f"{x['first_seen']:%Y-%m-%d} – {x['last_seen']:%Y-%m-%d}" if x.get("first_seen") is not None else ""
        rows.append(
            [
                _td(x["campaign_id"], "id"),
                _td(x["accounts"], "num"),
                _td(x["flagged"], "num"),
                f'<td class="num{" flag" if x["harvesting"] else ""}">{x["campaign_score"]:.2f}</td>',
                _td(_n(x["requests"]), "num"),
                _td(_n(x["completion_tokens"]), "num"),
                _td(when),
                _td(x["evidence"]),
                _td(x["reasons"]),
                _td(shown, "ids"),
            ]
        )
    head = [
        "campaign",
        "accounts",
        "flagged",
        "score",
        "requests",
        "completion tokens",
        "active",
        "what links them",
        "their traffic together",
        "members",
    ]
    harvesting = sum(c.column("harvesting").to_pylist())
    note = (
        f"<p>{_n(c.num_rows)} group(s) of accounts sharing a request fingerprint, templates or near-duplicate "
        f"prompts; {_n(harvesting)} harvest together (score ≥ {r.threshold:g} on their pooled traffic).</p>"
    )
    return f'<section id="campaigns"><h2>Campaigns</h2>{note}{_table(head, rows, {1, 2, 3, 4, 5})}</section>'


def _clusters(r: Report) -> str:
    table = clusters_table(r.accounts)
    if table.num_rows == 0:
        return '<section id="clusters"><h2>Clusters</h2><p>No accounts are linked.</p></section>'
    rows = []
    for c in table.slice(0, 50).to_pylist():
        evidence = []
        if c["shared_template_accounts"]:
            evidence.append(f"shared templates (up to {c['shared_template_accounts']} accounts)")
        if c["shared_near_dup_accounts"]:
            evidence.append(f"near-duplicate prompts (up to {c['shared_near_dup_accounts']} accounts)")
        if c["rotation_partners"]:
            evidence.append(f"rotation (up to {c['rotation_partners']} partners)")
        ids = c["members"]
        shown = ", ".join(ids[:12]) + (f" and {len(ids) - 12:,} more" if len(ids) > 12 else "")
        rows.append(
            [
                _td(c["cluster_id"], "id"),
                _td(c["accounts"], "num"),
                _td(c["flagged"], "num"),
                _td(_n(c["requests"]), "num"),
                _td("; ".join(evidence)),
                _td(shown, "ids"),
            ]
        )
    head = ["cluster", "accounts", "flagged", "requests", "what links them", "members"]
    return f'<section id="clusters"><h2>Clusters</h2>{_table(head, rows, {1, 2, 3})}</section>'


def _templates(r: Report) -> str:
    """The shared templates with their skeletons, and the excerpts of the suspicious accounts'
    prompts: in a report with text (--include-text) only."""
    t = r.shared_templates
    if t is None or "skeleton" not in t.column_names:
        n = 0 if t is None else t.num_rows
        return (
            f'<section id="templates"><h2>Shared templates</h2><p class="muted">{_n(n)} template(s) shared by '
            "several accounts. No prompt text is shown: scan with --include-text for the templates' skeletons and "
            "excerpts of the flagged accounts' prompts.</p></section>"
        )
    rows = []
    for x in t.slice(0, MAX_ROWS).to_pylist():
        ids = x["account_ids"]
        shown = ", ".join(ids[:8]) + (f" and {len(ids) - 8:,} more" if len(ids) > 8 else "")
        rows.append([_td(x["skeleton"], "text"), _td(x["accounts"], "num"), _td(shown, "ids")])
    body = _table(["skeleton (payload cut)", "accounts", "accounts sharing it"], rows, {1}) if rows else ""
    ids, scores = r.accounts.column("account_id").to_pylist(), r.accounts.column("extraction_score").to_pylist()
    near = {a for a, score in zip(ids, scores) if score >= NEAR_THRESHOLD * r.threshold}
    ex: list[list[str]] = []
    if r.prompt_excerpts is not None:
        for e in r.prompt_excerpts.to_pylist():
            if e["account_id"] in near and len(ex) < 3 * MAX_ROWS:
                ex.append([_td(e["account_id"], "id"), _td(_n(e["count"]), "num"), _td(e["excerpt"], "text")])
    excerpts = (
        "<h3>Example prompts of the flagged and near-threshold accounts</h3>"
        + _table(["account_id", "times sent", "excerpt"], ex, {1})
        if ex
        else ""
    )
    none = "" if rows else "<p>No template is shared by several accounts.</p>"
    return f'<section id="templates"><h2>Shared templates</h2>{body}{none}{excerpts}</section>'


def _models(r: Report) -> str:
    if r.models is None or r.models.num_rows == 0:
        return ""
    m = r.models.to_pylist()
    rows = [
        [
            _td(x["model"]),
            _td(_n(x["requests"]), "num"),
            _td(_n(x["accounts"]), "num"),
            _td(_n(x["completion_tokens"]), "num"),
        ]
        for x in m
    ]
    spec = {
        "width": 420,
        "height": {"step": 22},
        "data": {"values": m[:20]},
        "mark": {"type": "bar", "color": "#4c78a8"},
        "encoding": {
            "y": {"field": "model", "type": "nominal", "sort": "-x", "title": None},
            "x": {"field": "requests", "type": "quantitative"},
        },
    }
    table = _table(["model", "requests", "accounts", "completion tokens"], rows, {1, 2, 3})
    return f'<section id="models"><h2>Models used</h2><div class="charts">{_svg(spec)}</div>{table}</section>'


def render_html(report: Report, title: str = "fastscan report") -> str:
    """The report as one self-contained HTML page (no script, no request; charts as inline SVG)."""
    s = report.stats
    sub = (
        f"{_n(s.records_read)} records from {_n(s.files)} input(s); {_n(s.accounts)} accounts; "
        f"flag at extraction_score ≥ {report.threshold:g} with at least {report.min_requests} requests"
    )
    parts = [
        _summary(report),
        _distribution(report),
        _accounts(report),
        _activity(report),
        _campaigns(report),
        _clusters(report),
        _templates(report),
        _models(report),
        _quality(report),
    ]
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; style-src 'unsafe-inline'; "
        'img-src data:">'
        f"<meta name='viewport' content='width=device-width'><title>{_e(title)}</title><style>{_CSS}</style></head>"
        f"<body><header><h1>{_e(title)}</h1><p>{_e(sub)}</p></header><main>{''.join(parts)}</main></body></html>\n"
    )


def write_html(report: Report, path: str | os.PathLike[str], title: str = "fastscan report") -> None:
    """Write `render_html(report)` to `path` (through `path`.part, so never half-written);
    OutputError names the path when it cannot be written."""
    page = render_html(report, title).encode("utf-8")
    tmp = f"{os.fspath(path)}.part"
    try:
        with open(tmp, "wb") as fh:
            fh.write(page)
        os.replace(tmp, path)
    except OSError as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise OutputError(f"{os.fspath(path)}: cannot write the HTML report: {e.strerror or e}") from None
