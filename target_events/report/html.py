"""The report as one self-contained HTML page: inline CSS and SVG charts, no script, no network.

A page that opens from a mail attachment or an S3 link must not fetch anything, so the charts are
drawn here as SVG: time in stage (median bar, p90 tick), the stage funnel, approvals per month by
status. Every string from the data is escaped.
"""

from __future__ import annotations

import html
import json
from typing import Any

PALETTE = ("#2f6fde", "#1a9e77", "#e6a01a", "#d9534f", "#7a5cc7", "#5a6b7b")
STATUS_COLORS = {
    "Approved": "#1a9e77",
    "Rejected": "#d9534f",
    "Started": "#2f6fde",
    "Pending": "#e6a01a",
}

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f4f6f9;color:#1d2733}
header{background:#16325c;color:#fff;padding:20px 32px}
header h1{margin:0;font-size:22px} header p{margin:6px 0 0;opacity:.85}
main{padding:20px 32px;display:grid;grid-template-columns:repeat(auto-fit,minmax(440px,1fr));gap:20px}
section{background:#fff;border-radius:8px;padding:16px 20px;box-shadow:0 1px 3px rgba(0,0,0,.12)}
section h2{font-size:16px;margin:0 0 12px}
.kpis{display:flex;gap:16px;flex-wrap:wrap;grid-column:1/-1}
.kpi{background:#fff;border-radius:8px;padding:12px 18px;box-shadow:0 1px 3px rgba(0,0,0,.12);min-width:150px}
.kpi b{display:block;font-size:26px;color:#16325c} .kpi span{font-size:12px;color:#5a6b7b}
table{border-collapse:collapse;width:100%;font-size:13px;margin-top:8px}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #e3e8ef;overflow-wrap:anywhere} td.n{text-align:right}
section.wide{grid-column:1/-1} svg{max-width:100%;height:auto}
tr.critical td{background:#fdecea}
svg text{font-size:12px;fill:#1d2733}
"""


def _e(value: Any) -> str:
    return html.escape("-" if value is None else str(value))


def _num(value: float | int | None, digits: int = 2) -> str:
    if value is None:
        return "-"
    return f"{value:,}" if isinstance(value, int) else f"{value:,.{digits}f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _table(
    headers: list[str], rows: list[list[Any]], numeric: set[int], row_class: str = ""
) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join(
        f'<tr class="{row_class}">'
        + "".join(
            f'<td class="n">{_e(v)}</td>' if i in numeric else f"<td>{_e(v)}</td>"
            for i, v in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body or '<tr><td>(none)</td></tr>'}</table>"


def _bars(items: list[tuple[str, float, float | None, str]], unit: str, title: str) -> str:
    """Horizontal bars: (label, value, optional tick, caption); scaled to the largest figure."""
    if not items:
        return "<p>No data in this period.</p>"
    width, label_w, caption_w, row_h = 600, 150, 170, 30
    top = max(max(v, t or 0) for _, v, t, _ in items) or 1
    scale = (width - label_w - caption_w) / top
    parts = [
        f'<svg role="img" aria-label="{_e(title)}" width="{width}" height="{row_h * len(items) + 10}" '
        f'viewBox="0 0 {width} {row_h * len(items) + 10}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for i, (label, value, tick, caption) in enumerate(items):
        y = 5 + i * row_h
        bar = max(value * scale, 1.5)
        color = PALETTE[i % len(PALETTE)]
        parts.append(f'<text x="{label_w - 8}" y="{y + 18}" text-anchor="end">{_e(label)}</text>')
        parts.append(
            f'<rect x="{label_w}" y="{y + 4}" width="{bar:.1f}" height="{row_h - 10}" rx="3" fill="{color}">'
            f"<title>{_e(label)}: {_e(caption)}</title></rect>"
        )
        if tick is not None:
            x = label_w + tick * scale
            parts.append(
                f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y + 2}" y2="{y + row_h - 4}" stroke="#1d2733" stroke-width="2"/>'
            )
        end = label_w + max(bar, (tick or 0) * scale) + 6
        parts.append(f'<text x="{end:.1f}" y="{y + 18}">{_e(caption)}{_e(unit)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _stacked_months(by_month: list[dict[str, Any]]) -> str:
    """Vertical bars per month, one colour per step status, with a legend."""
    if not by_month:
        return "<p>No approval steps in this period.</p>"
    months = sorted({m["month"] for m in by_month})
    statuses = sorted({m["status"] for m in by_month})
    counts = {(m["month"], m["status"]): m["steps"] for m in by_month}
    totals = {month: sum(counts.get((month, s), 0) for s in statuses) for month in months}
    width, height, left, bottom = 600, 220, 40, 40
    slot = (width - left - 10) / len(months)
    bar_w = min(48.0, slot * 0.7)
    scale = (height - bottom - 20) / max(totals.values())
    label_every = max(1, round(len(months) * 64 / (width - left)))
    parts = [
        f'<svg role="img" aria-label="Approval steps per month" width="{width}" height="{height + 24}" '
        f'viewBox="0 0 {width} {height + 24}" xmlns="http://www.w3.org/2000/svg">',
        f'<line x1="{left}" x2="{width - 10}" y1="{height - bottom}" y2="{height - bottom}" stroke="#9aa5b1"/>',
    ]
    for i, month in enumerate(months):
        x = left + i * slot + (slot - bar_w) / 2
        y = height - bottom
        for status in statuses:
            steps = counts.get((month, status), 0)
            if not steps:
                continue
            h = steps * scale
            y -= h
            color = STATUS_COLORS.get(status, PALETTE[statuses.index(status) % len(PALETTE)])
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="{color}">'
                f"<title>{_e(month)} {_e(status)}: {steps}</title></rect>"
            )
        if i % label_every == 0:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{height - bottom + 16}" text-anchor="middle">{_e(month)}</text>'
            )
        parts.append(
            f'<text x="{x + bar_w / 2:.1f}" y="{y - 4:.1f}" text-anchor="middle">{totals[month]}</text>'
        )
    for i, status in enumerate(statuses):
        color = STATUS_COLORS.get(status, PALETTE[i % len(PALETTE)])
        x = left + i * 110
        parts.append(f'<rect x="{x}" y="{height}" width="12" height="12" fill="{color}"/>')
        parts.append(f'<text x="{x + 16}" y="{height + 11}">{_e(status)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def render_html(report: dict[str, Any]) -> str:
    period, stages, approvals = report["period"], report["stages"], report["approvals"]
    activities, setup = report["activities"], report["setup"]
    neck = stages["bottleneck"]
    kpis = [
        (_num(report["events"]["total"]), "decisions"),
        (_num(stages["opportunities_entered"]), "opportunities moved"),
        (_pct(stages["win_rate"]), "win rate"),
        (f"{neck['stage']}" if neck else "-", "bottleneck stage"),
        (_num(approvals["median_days_to_decision"]), "median days to approve"),
        (_num(len(setup["critical"])), f"critical setup changes ({period['critical_days']} d)"),
    ]
    durations = _bars(
        [
            (
                d["stage"],
                d["median_days"] or 0.0,
                d["p90_days"],
                f"{_num(d['median_days'])} (p90 {_num(d['p90_days'])})",
            )
            for d in stages["durations"]
        ],
        " days",
        "Median days in stage, p90 marked",
    )
    funnel = _bars(
        [
            (
                f["stage"],
                float(f["opportunities"]),
                None,
                f"{f['opportunities']} ({_pct(f['share_of_entered'])})",
            )
            for f in stages["funnel"]
        ],
        "",
        "Opportunities reaching each stage",
    )
    sections = [
        '<div class="kpis">'
        + "".join(f'<div class="kpi"><b>{_e(v)}</b><span>{_e(k)}</span></div>' for v, k in kpis)
        + "</div>",
        "<section><h2>Time in stage (days)</h2>"
        + durations
        + _table(
            ["stage", "moves", "median", "p90", "mean", "max"],
            [[d["stage"], d["moves"], _num(d["median_days"]), _num(d["p90_days"]), _num(d["mean_days"]), _num(d["max_days"])] for d in stages["durations"]],
            {1, 2, 3, 4, 5},
        )
        + "</section>",
        "<section><h2>Stage funnel</h2>"
        + funnel
        + _table(
            ["stage", "outcome", "opportunities", "of entered", "from previous"],
            [[f["stage"], f["outcome"], f["opportunities"], _pct(f["share_of_entered"]), _pct(f["conversion_from_previous"])] for f in stages["funnel"]],
            {2, 3, 4},
        )
        + "</section>",
        "<section><h2>Approvals over time</h2>"
        + _stacked_months(approvals["by_month"])
        + _table(
            ["approver", "decisions", "approved", "rejected", "median days"],
            [[a["name"] or a["actor_id"], a["decisions"], a["approved"], a["rejected"], _num(a["median_days"])] for a in approvals["by_approver"]],
            {1, 2, 3, 4},
        )
        + "</section>",
        "<section><h2>Activities</h2>"
        + _table(["task status", "count"], [[k, v] for k, v in activities["tasks_by_status"].items()], {1})
        + _table(["event subtype", "count"], [[k, v] for k, v in activities["events_by_subtype"].items()], {1})
        + "</section>",
        "<section><h2>Setup changes by section</h2>"
        + _table(["section", "count"], [[k, v] for k, v in setup["by_section"].items()], {1})
        + "</section>",
        f'<section class="wide"><h2>Critical setup changes, last {period["critical_days"]} days</h2>'

        + _table(
            ["when", "category", "section", "action", "by", "what"],
            [[c["at"], c["category"], c["section"], c["action"], c["actor_name"] or c["actor_id"], c["display"]] for c in setup["critical"]],
            set(),
            row_class="critical",
        )
        + "</section>",
    ]  # fmt: skip
    subtitle = (
        f"{period['since'] or 'beginning'} to {period['until'] or 'now'} · "
        f"events {period['first_event'] or '-'} .. {period['last_event'] or '-'}"
    )
    # Raw text inside <script>: no entity decoding there, so "<" is escaped the JSON way instead.
    data = json.dumps(report, default=str).replace("<", "\\u003c")
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Decision report · {_e(report['destination'])}</title><style>{CSS}</style></head><body>"
        f"<header><h1>Decision report · {_e(report['destination'])}</h1><p>{_e(subtitle)}</p></header>"
        f"<main>{''.join(sections)}</main>"
        f'<script type="application/json" id="report-data">{data}</script>'
        "</body></html>\n"
    )
