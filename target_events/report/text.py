"""The report as terminal tables: one titled block per question, figures right-aligned."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    """Columns sized to their content; text left-aligned, numbers right-aligned."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    numeric = [
        all(isinstance(row[i], (int, float)) or row[i] is None for row in rows) and rows
        for i in range(len(headers))
    ]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if numeric[i] else v.ljust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=True))
        ).rstrip()

    out = [line(headers), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in cells] if cells else ["(none)"]
    return out


def _counts(title: str, counts: dict[str, int]) -> list[str]:
    return table([title, "count"], list(counts.items()))


def render_text(report: dict[str, Any]) -> str:
    period, stages, approvals = report["period"], report["stages"], report["approvals"]
    activities, setup = report["activities"], report["setup"]
    lines = [
        f"Decision report for {report['destination']}",
        f"Period: {period['since'] or 'beginning'} to {period['until'] or 'now'}"
        f" ({report['events']['total']:,} events, {period['first_event'] or '-'} .. {period['last_event'] or '-'})",
        "",
        "Events by type",
        *_counts("event_type", report["events"]["by_type"]),
        "",
        "Time in stage (days, before moving on)",
        *table(
            ["stage", "moves", "median", "p90", "mean", "max"],
            [
                (
                    d["stage"],
                    d["moves"],
                    d["median_days"],
                    d["p90_days"],
                    d["mean_days"],
                    d["max_days"],
                )
                for d in stages["durations"]
            ],
        ),
    ]
    if stages["bottleneck"]:
        neck = stages["bottleneck"]
        lines.append(
            f"Bottleneck: {neck['stage']} (median {neck['median_days']:.2f} days over {neck['moves']} moves)"
        )
    lines += [
        "",
        f"Stage funnel ({stages['opportunities_entered']:,} opportunities; won {stages['won']},"
        f" lost {stages['lost']}, win rate {_percent(stages['win_rate'])})",
        *table(
            ["stage", "outcome", "opportunities", "of entered", "from previous"],
            [
                (
                    f["stage"],
                    f["outcome"],
                    f["opportunities"],
                    _percent(f["share_of_entered"]),
                    _percent(f["conversion_from_previous"]),
                )
                for f in stages["funnel"]
            ],
        ),
        "",
        f"Approvals ({approvals['steps']:,} steps, {approvals['decisions']:,} decisions,"
        f" median {_cell(approvals['median_days_to_decision'])} days to decide)",
        *_counts("step status", approvals["steps_by_status"]),
        "",
        *table(
            ["approver", "decisions", "approved", "rejected", "median days"],
            [
                (
                    a["name"] or a["actor_id"],
                    a["decisions"],
                    a["approved"],
                    a["rejected"],
                    a["median_days"],
                )
                for a in approvals["by_approver"]
            ],
        ),
        "",
        f"Activities ({activities['total']:,})",
        *_counts("task status", activities["tasks_by_status"]),
        "",
        *_counts("event subtype", activities["events_by_subtype"]),
        "",
        f"Setup changes ({setup['total']:,})",
        *_counts("section", setup["by_section"]),
        "",
        f"Critical setup changes in the {period['critical_days']} days to {period['as_of']}",
        *table(
            ["when", "category", "section", "action", "by", "what"],
            [
                (
                    c["at"],
                    c["category"],
                    c["section"],
                    c["action"],
                    c["actor_name"] or c["actor_id"],
                    c["display"],
                )
                for c in setup["critical"]
            ],
        ),
    ]
    return "\n".join(lines) + "\n"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"
