"""Pictures of the reports: bar and line charts (matplotlib, Agg) and the process graph (graphviz ``dot``).

Both are SVG with their text kept as text (``svg.fonttype: none``), so titles, axis labels and the
series names in the legend can be read, searched and checked.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import matplotlib

matplotlib.use("Agg")

import graphviz  # noqa: E402
from matplotlib import pyplot as plt  # noqa: E402
from matplotlib.colors import LinearSegmentedColormap, to_hex  # noqa: E402

WAIT_COLOURS = LinearSegmentedColormap.from_list("wait", ["#2e7d32", "#f9a825", "#c62828"])
NUMERIC = (int, float)


def to_csv(result: dict[str, Any]) -> str:
    """Every table as CSV: the report's columns as the header, one line per row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    columns = result["columns"]
    writer.writerow(columns)
    for row in result["rows"]:
        writer.writerow(["" if row.get(c) is None else row.get(c) for c in columns])
    return out.getvalue()


def _series(result: dict[str, Any]) -> tuple[list[str], dict[str, list[float]]]:
    """X labels and the numeric series of a report table (a second text column splits the series)."""
    columns, rows = result["columns"], result["rows"]
    text_cols = [c for c in columns if rows and all(not isinstance(r.get(c), NUMERIC) for r in rows)]
    value_cols = [c for c in columns if c not in text_cols and c != "rank"]
    x_col = text_cols[0] if text_cols else columns[0]
    split = text_cols[1] if len(text_cols) > 1 else None
    labels = list(dict.fromkeys(str(r.get(x_col)) for r in rows))
    series: dict[str, list[float]] = {}
    if split is not None and value_cols:
        value = value_cols[0]
        for name in dict.fromkeys(str(r.get(split)) for r in rows):
            series[name] = [0.0] * len(labels)
        for r in rows:
            series[str(r.get(split))][labels.index(str(r.get(x_col)))] = float(r.get(value) or 0)
        return labels, series
    for col in value_cols:
        series[col] = [float(r.get(col) or 0) for r in rows]
    return labels, series


def chart_svg(result: dict[str, Any], title: str, kind: str = "bar") -> bytes:
    labels, series = _series(result)
    with plt.rc_context({"svg.fonttype": "none", "svg.hashsalt": "casework"}):
        fig, ax = plt.subplots(figsize=(9, 4.8))
        try:
            if not labels or not series:
                ax.text(0.5, 0.5, "no data in this period", ha="center", va="center")
            elif kind == "line":
                for name, values in series.items():
                    ax.plot(labels, values, marker="o", label=name)
            else:
                width = 0.8 / max(1, len(series))
                for i, (name, values) in enumerate(series.items()):
                    xs = [j + (i - (len(series) - 1) / 2) * width for j in range(len(labels))]
                    ax.bar(xs, values, width=width, label=name)
                ax.set_xticks(range(len(labels)), labels)
            ax.set_title(title)
            if series and labels:
                ax.legend()
            ax.tick_params(axis="x", labelrotation=30)
            fig.tight_layout()
            out = io.BytesIO()
            fig.savefig(out, format="svg")
        finally:
            plt.close(fig)
    return out.getvalue()


def _hours(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86400 * 2:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def graph_source(result: dict[str, Any], title: str) -> graphviz.Digraph:
    """The directly-follows graph: edge thickness by frequency, colour by mean wait (green to red)."""
    rows = result["rows"]
    top = max((r["frequency"] for r in rows), default=1) or 1
    slowest = max((r["mean_wait_seconds"] or 0 for r in rows), default=0) or 1
    dot = graphviz.Digraph("process", graph_attr={"rankdir": "LR", "label": title, "labelloc": "t"})
    dot.attr("node", shape="box", style="rounded,filled", fillcolor="#eef3fb", fontname="Helvetica")
    dot.attr("edge", fontname="Helvetica", fontsize="10")
    for name, count in result["totals"].get("nodes", {}).items():
        label = name if name.startswith("(") else f"{name}\n{count}"
        dot.node(name, label=label, shape="circle" if name.startswith("(") else "box")
    for r in rows:
        wait = r["mean_wait_seconds"] or 0
        dot.edge(
            r["source"],
            r["target"],
            label=f"{r['frequency']} / {_hours(wait)}",
            penwidth=f"{1 + 7 * r['frequency'] / top:.2f}",
            color=to_hex(WAIT_COLOURS(min(1.0, wait / slowest))),
        )
    return dot


def graph_svg(result: dict[str, Any], title: str) -> bytes:
    return graph_source(result, title).pipe(format="svg")
