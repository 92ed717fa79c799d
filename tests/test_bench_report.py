"""The self-contained HTML report (parsed with html.parser) and the CSV and JSON exports."""

from __future__ import annotations

import csv
import json
from html.parser import HTMLParser

import pytest

from engine.bench.metrics import ANSWERED, MISSING, UNPARSED, ClosedRecord, compute_closed_metrics
from engine.bench.open_metrics import OpenRecord, compute_open_metrics
from engine.bench.report import CSV_COLUMNS, metric_rows, render_html, write_csv, write_json

RECORDS = [
    ClosedRecord(1, 0, "diagnosis", "ABCDE", "A", "A", ANSWERED, tumour_class="glioma",
                 source="08"),
    ClosedRecord(1, 1, "modality", "ABCDE", "E", "E", ANSWERED, is_trap=True,
                 tumour_class="glioma", source="08"),
    ClosedRecord(2, 0, "diagnosis", "AB", "B", "A", ANSWERED, tumour_class="healthy",
                 source="09"),
    ClosedRecord(3, 0, "diagnosis", "ABCDE", "C", None, UNPARSED, tumour_class="pituitary",
                 source="07"),
    ClosedRecord(3, 1, "modality", "ABCDE", "D", None, MISSING, tumour_class="pituitary",
                 source="07"),
]
CONFIG = {"model": "baseline:random", "setting": "rejection-aware", "seed": 5,
          "benchmark_file": "closed.json", "bootstrap": {"resamples": 200, "seed": 0}}


class Page(HTMLParser):
    """Collects elements with their attributes (and the id of the chart that contains
    them, as ``chart``), and the text of table cells."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict]] = []
        self.stack: list[str] = []
        self.cells: list[str] = []
        self.chart: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "svg":
            self.chart = attrs.get("id")
        self.elements.append((tag, {**attrs, "chart": self.chart}))
        self.stack.append(tag)
        if tag in ("td", "th"):
            self.cells.append("")

    def handle_endtag(self, tag):
        while self.stack and self.stack.pop() != tag:
            pass
        if tag == "svg":
            self.chart = None

    def handle_data(self, data):
        if self.stack and self.stack[-1] in ("td", "th"):
            self.cells[-1] += data

    def find(self, tag, **attrs):
        return [found for name, found in self.elements if name == tag
                and all(found.get(key) == value for key, value in attrs.items())]


@pytest.fixture(scope="module")
def metrics():
    return compute_closed_metrics(RECORDS, seed=0, resamples=200)


@pytest.fixture(scope="module")
def open_metrics():
    return compute_open_metrics([
        OpenRecord("1_q1", "Detail", "a large lobulated tumor", ("large", "lobulated", "tumor"),
                   "a large tumor")], resamples=50)


@pytest.fixture(scope="module")
def page(metrics, open_metrics):
    html = render_html(metrics, CONFIG, open_metrics, title="Run <1> & report")
    parser = Page()
    parser.feed(html)
    parser.close()
    return html, parser


def test_report_is_self_contained(page):
    html, parser = page
    assert html.startswith("<!DOCTYPE html>")
    assert "http://" not in html
    assert "https://" not in html
    assert parser.find("script") == []
    assert parser.find("link") == []
    assert parser.find("img") == []
    assert not any("src" in attrs or "href" in attrs for _, attrs in parser.elements)
    assert parser.find("style")


def test_report_has_charts(page):
    _, parser = page
    charts = {attrs["id"] for attrs in parser.find("svg") if attrs.get("class") == "chart"}
    assert charts == {"chart-type", "chart-trap", "chart-letters"}

    def bars(chart):
        return parser.find("rect", **{"class": "bar", "chart": chart})

    # Two question types, each with an interval whisker.
    assert len(bars("chart-type")) == 2
    assert len(parser.find("line", **{"class": "ci", "chart": "chart-type"})) == 2
    assert len(bars("chart-trap")) == 2
    # Letters A-E, unparsed and missing have a predicted bar; A-E also have a gold bar.
    # Skipped has no question, so it gets no row.
    assert len(bars("chart-letters")) == 7 + 5
    titles = [attrs for attrs in parser.find("title") if attrs["chart"] == "chart-trap"]
    assert titles


def test_report_has_tables(page):
    _, parser = page
    sections = {attrs["data-section"] for attrs in parser.find("table", **{"class": "metrics"})}
    assert sections == {"summary", "type", "options", "tumour_class", "source", "letters", "open"}
    cells = parser.cells
    for expected in ("diagnosis", "modality", "glioma", "pituitary", "07", "unparsed",
                     "false-rejection rate", "trap accuracy"):
        assert expected in cells
    # Overall accuracy 2 of 5.
    row = cells.index("accuracy")
    assert cells[row + 1:row + 4] == ["5", "2", "40.0%"]


def test_report_shows_configuration(page):
    html, parser = page
    assert parser.find("table", **{"class": "config"})
    for key in CONFIG:
        assert key in parser.cells
    assert "baseline:random" in parser.cells
    assert "Run &lt;1&gt; &amp; report" in html


def test_metric_rows_and_csv(tmp_path, metrics, open_metrics):
    rows = metric_rows(metrics, open_metrics)
    overall = rows[0]
    assert overall["section"] == "overall"
    assert (overall["total"], overall["count"], overall["value"]) == (5, 2, 0.4)
    trap = next(row for row in rows if row["section"] == "trap" and row["group"] == "trap")
    assert (trap["total"], trap["count"]) == (1, 1)
    rouge = next(row for row in rows if row["section"] == "open_rouge_l" and row["group"] == "all")
    assert rouge["value"] == pytest.approx(open_metrics["rouge_l"]["mean"])

    path = tmp_path / "metrics.csv"
    write_csv(path, metrics, open_metrics)
    with path.open(encoding="utf-8") as stream:
        read = list(csv.DictReader(stream))
    assert tuple(read[0]) == CSV_COLUMNS
    assert len(read) == len(rows)
    assert read[0]["value"] == "0.4"


def test_json_export(tmp_path, metrics):
    path = tmp_path / "metrics.json"
    write_json(path, metrics, CONFIG)
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["config"] == CONFIG
    assert document["closed"]["overall"]["correct"] == 2
    assert document["open"] is None
