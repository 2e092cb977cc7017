"""Charts are valid SVG with the series labels as text; the process graph too; CSV of a table."""

from __future__ import annotations

import csv
import io
from xml.etree import ElementTree

from services.search.reports import charts

TABLE = {
    "columns": ["key", "case_type", "completed"],
    "rows": [
        {"key": "2026-11-01", "case_type": "complaint", "completed": 2},
        {"key": "2026-11-02", "case_type": "complaint", "completed": 1},
        {"key": "2026-11-02", "case_type": "claim", "completed": 4},
    ],
    "totals": {},
}


def _texts(svg: bytes) -> str:
    root = ElementTree.fromstring(svg)  # noqa: S314 - our own output
    assert root.tag.endswith("svg")
    return " ".join(t for el in root.iter() if (t := (el.text or "").strip()))


def test_bar_chart_is_svg_with_series_labels() -> None:
    text = _texts(charts.chart_svg(TABLE, "Throughput", "bar"))
    for label in ("Throughput", "complaint", "claim", "2026-11-01", "2026-11-02"):
        assert label in text


def test_line_chart_of_several_numeric_series() -> None:
    table = {
        "columns": ["key", "open", "under_1d"],
        "rows": [{"key": "q1", "open": 3, "under_1d": 1}],
        "totals": {},
    }
    text = _texts(charts.chart_svg(table, "Backlog", "line"))
    assert "open" in text and "under_1d" in text and "q1" in text


def test_empty_chart_says_so() -> None:
    assert "no data in this period" in _texts(
        charts.chart_svg({"columns": ["key", "n"], "rows": [], "totals": {}}, "Empty")
    )


def test_process_graph_edges_by_frequency_and_wait() -> None:
    result = {
        "rows": [
            {"source": "(start)", "target": "received", "frequency": 10, "mean_wait_seconds": 0.0},
            {"source": "received", "target": "investigating", "frequency": 10, "mean_wait_seconds": 3600.0},
            {"source": "investigating", "target": "received", "frequency": 2, "mean_wait_seconds": 86400.0},
        ],
        "totals": {"nodes": {"(start)": 0, "received": 12, "investigating": 10}},
    }
    source = charts.graph_source(result, "Process").source
    assert "penwidth=8.00" in source and "penwidth=2.40" in source
    assert 'color="#c62828"' in source  # the slowest edge is red
    text = _texts(charts.graph_svg(result, "Process"))
    assert "investigating" in text and "2 / 24.0 h" in text and "10 / 1.0 h" in text


def test_csv_has_the_columns_and_every_row() -> None:
    rows = list(csv.reader(io.StringIO(charts.to_csv(TABLE))))
    assert rows == [
        ["key", "case_type", "completed"],
        ["2026-11-01", "complaint", "2"],
        ["2026-11-02", "complaint", "1"],
        ["2026-11-02", "claim", "4"],
    ]
