"""The report on a terminal: the top-N table, one account explained, the run's statistics."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING, TextIO

import pyarrow as pa

if TYPE_CHECKING:
    from fastscan.report.report import Explanation, ScanStats

__all__ = ["format_campaign", "format_explanation", "format_top", "print_stats"]


def format_top(top: pa.Table, width: int = 160) -> str:
    """The rows of `top` (a report's accounts, in order) as a table `width` characters wide: the
    account id whole (it must paste into `fastscan explain`), the reasons wrapped under their
    column rather than cut."""
    rows = top.to_pylist()
    id_w = max([len("account_id"), *(len(str(r["account_id"])) for r in rows)])
    head = f"{'account_id':{id_w}s} {'score':>5s} {'flag':4s} {'requests':>9s} {'compl_tok':>11s} {'near_dup':>8s} "
    indent = len(head)
    text_w = max(width - indent, 30)
    lines = [head + "reasons"]
    for r in rows:
        left = (
            f"{r['account_id']!s:{id_w}s} {r['extraction_score']:5.2f} {'yes' if r['flagged'] else '':4s} "
            f"{r['requests']:9,d} {r['completion_tokens']:11,d} {r['near_dup_rate']:8.2f} "
        )
        wrapped = textwrap.wrap(r["reasons"] or "", text_w, break_on_hyphens=False) or [""]
        lines.append((left + wrapped[0]).rstrip())
        lines += [" " * indent + w for w in wrapped[1:]]
    return "\n".join(lines)


def print_stats(stats: ScanStats, file_errors: list[dict], examples: list[dict], err: TextIO) -> None:
    """The run's statistics, rejects by reason, the first rejected records and the warnings."""
    print(
        f"fastscan: {stats.files} file(s), {stats.bytes_read / 1e6:,.1f} MB read, "
        f"{stats.records_read:,} records: {stats.records_scored:,} scored, "
        f"{stats.records_rejected:,} rejected; {stats.accounts:,} accounts in "
        f"{stats.seconds:.2f} s ({stats.mb_per_s:,.0f} MB/s)",
        file=err,
    )
    level, size = stats.sample_level, stats.sample_size
    if level is not None and size is not None and level < size:
        print(
            f"fastscan: the prompt sample budget held each account to {level:,} distinct prompts of "
            f"{size:,}: the repetition rates of accounts with more are estimated from those (column sampled)",
            file=err,
        )
    if stats.records_rejected:
        by = ", ".join(f"{k}: {v:,}" for k, v in stats.rejected_by_reason.items())
        print(f"fastscan: rejected by reason: {by}", file=err)
        for e in examples[:5]:
            print(f"fastscan: rejected {e['file']}:{e['line']}: {e['reason']}", file=err)
    for e in file_errors:
        where = f"{e['file']}:{e['line']}" if e["line"] else e["file"]
        print(f"fastscan: warning: {where}: {e['reason']}", file=err)


def _one_line(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: max(width - 1, 1)] + "\u2026"


def format_explanation(ex: Explanation, threshold: float, min_requests: int, width: int = 160) -> str:
    """What `fastscan explain` prints for one account."""
    r = ex.row
    verdict = "FLAGGED" if r["flagged"] else "not flagged"
    lines = [
        f"account {ex.account_id}: extraction_score {r['extraction_score']:.3f}, {verdict} "
        f"(flag at score >= {threshold:g} with at least {min_requests} requests)",
        f"  {r['requests']:,} requests, {r['prompt_tokens']:,} prompt tokens, "
        f"{r['completion_tokens']:,} completion tokens"
        + (f" ({r['reasoning_tokens']:,} reasoning)" if r.get("reasoning_tokens") else "")
        + (
            f"; first seen {r['first_seen']:%Y-%m-%d %H:%M}, last seen {r['last_seen']:%Y-%m-%d %H:%M} UTC"
            if r.get("first_seen") is not None
            else ""
        ),
        f"  reasons: {r['reasons'] or '(no signal stands out from the typical account of this scan)'}",
    ]
    if r.get("sampled"):  # more distinct prompts than its sample keeps (sample_size, or a budget's level)
        lines.append(
            f"  its repetition rates are measured on a uniform sample of its distinct prompts "
            f"(about {r['distinct_prompts']:,} in all; docs/bounds.md)"
        )
    lines += [
        "",
        f"  {'signal':18s} {'group':18s} {'value':>5s} {'adds':>6s} {'typical':>7s}  in words",
    ]
    for s in sorted(ex.signals, key=lambda s: -s["contribution"]):
        lines.append(
            f"  {s['signal']:18s} {s['group']:18s} {s['value']:5.2f} {s['contribution']:+6.2f} "
            f"{s['typical']:+7.2f}  {s['words']}"
        )
    lines.append(
        "  (adds: the signal's contribution to the score's logit; typical: the median contribution "
        "among accounts of this scan that could be flagged; output signals as if every answer were "
        "fresh, fresh_answers what stale answers take away from them)"
    )
    for kind, ids in ex.linked.items():
        if ids:
            shown = ", ".join(ids[:20]) + (f" and {len(ids) - 20:,} more" if len(ids) > 20 else "")
            lines.append(f"  linked by {kind} ({len(ids):,}): {shown}")
    templates = ex.report.shared_templates
    if templates is not None and "skeleton" in templates.column_names:
        mine = [t for t in templates.to_pylist() if ex.account_id in t["account_ids"]]
        if mine:
            lines += ["", f"  shared templates ({len(mine):,}), the payload cut:"]
            for t in mine[:10]:
                lines.append(f"  {t['accounts']:6,d} accounts  {_one_line(t['skeleton'], width)}")
            if len(mine) > 10:
                lines.append(f"  and {len(mine) - 10:,} more")
    if ex.prompts:
        lines += [
            "",
            f"  example prompts ({len(ex.prompts)} of {ex.distinct_prompts:,} distinct, most frequent "
            f"first, truncated to {width} characters):",
        ]
        for count, p in ex.prompts:
            lines.append(f"  {count:6,d}x  {_one_line(p, width)}")
    return "\n".join(lines)


def format_campaign(campaigns: pa.Table, accounts: pa.Table, campaign_id: str, width: int = 160) -> str:
    """What `fastscan explain CAMPAIGN` prints: the campaign's totals, what links its members, what
    their traffic says taken together, and the members (most requests first). KeyError if absent."""
    found = [c for c in campaigns.to_pylist() if c["campaign_id"] == campaign_id]
    if not found:
        raise KeyError(campaign_id)
    c = found[0]
    verdict = "HARVESTING" if c["harvesting"] else "not harvesting"
    seen = (
        f"; first seen {c['first_seen']:%Y-%m-%d %H:%M}, last seen {c['last_seen']:%Y-%m-%d %H:%M} UTC"
        if c.get("first_seen") is not None
        else ""
    )
    lines = [
        f"{campaign_id}: {c['accounts']:,} accounts, {verdict} (campaign_score {c['campaign_score']:.3f}), "
        f"{c['flagged']:,} of them flagged",
        f"  {c['requests']:,} requests, {c['prompt_tokens']:,} prompt tokens, "
        f"{c['completion_tokens']:,} completion tokens together{seen}",
    ]
    lines += textwrap.wrap(
        f"what links them: {c['evidence']}", width, initial_indent="  ", subsequent_indent="    "
    ) or ["  what links them: -"]
    lines += textwrap.wrap(
        f"their traffic taken together: {c['reasons'] or 'nothing stands out from the typical group of accounts'}",
        width,
        initial_indent="  ",
        subsequent_indent="    ",
    )
    members = set(c["members"])
    rows = [r for r in accounts.select(["account_id", "requests", "extraction_score", "flagged"]).to_pylist()]
    rows = sorted((r for r in rows if r["account_id"] in members), key=lambda r: (-r["requests"], r["account_id"]))
    lines += ["", f"  {'member':30s} {'requests':>9s} {'score':>6s} flagged"]
    for r in rows[:50]:
        flag = "yes" if r["flagged"] else ""
        lines.append(f"  {r['account_id']!s:30s} {r['requests']:9,d} {r['extraction_score']:6.2f} {flag}")
    if len(rows) > 50:
        lines.append(f"  and {len(rows) - 50:,} more (fastscan scan --campaigns FILE lists them all)")
    return "\n".join(lines)
