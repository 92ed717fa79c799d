"""Run reports: a self-contained HTML page (inline CSS and SVG charts, no scripts and no
external files), and CSV and JSON exports of the metrics."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timezone
from html import escape
from pathlib import Path
from typing import Any

from engine.bench.metrics import OUTCOMES
from engine.bench.svg import bar_chart, grouped_bar_chart

CSV_COLUMNS = ("section", "group", "total", "count", "value", "ci_low", "ci_high")

# (section name in exports, key in the closed metrics, table heading)
_GROUPED_SECTIONS = (
    ("type", "by_type", "Accuracy by question type"),
    ("options", "by_option_count", "Accuracy by number of options"),
    ("tumour_class", "by_tumour_class", "Accuracy by tumour class (image folder)"),
    ("source", "by_source", "Accuracy by source dataset"),
)
_OPEN_SCORES = (("keyword_recall_substring", "mean"), ("keyword_recall_word", "mean"),
                ("rouge_l", "mean"), ("bleu", "score"))

_STYLE = """
body { font-family: sans-serif; margin: 1.5em; color: #222; max-width: 70em; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f0f0f0; }
.charts { display: flex; flex-wrap: wrap; gap: 1.5em; }
td.config { text-align: left; font-family: monospace; white-space: pre-wrap; }
"""


def _row(section: str, group: str, stat: dict) -> dict:
    count = stat.get("correct", stat.get("count"))
    value = stat.get("accuracy", stat.get("rate", stat.get("mean", stat.get("score"))))
    interval = stat.get("ci95") or (None, None)
    return {"section": section, "group": group, "total": stat.get("total"), "count": count,
            "value": value, "ci_low": interval[0], "ci_high": interval[1]}


def metric_rows(metrics: dict, open_metrics: dict | None = None) -> list[dict]:
    """Flatten closed (and open) metrics into rows with the columns of ``CSV_COLUMNS``."""
    total = metrics["overall"]["total"]
    rows = [_row("overall", "all", metrics["overall"])]
    for outcome in OUTCOMES:
        count = metrics["outcomes"][outcome]
        rows.append(_row("outcome", outcome, {"total": total, "count": count,
                                              "rate": count / total if total else None}))
    rows.append(_row("unparsed_rate", "all", metrics["unparsed_rate"]))
    rows.append(_row("trap", "trap", metrics["trap"]))
    rows.append(_row("trap", "non_trap", metrics["non_trap"]))
    rows.append(_row("false_rejection", "all", metrics["false_rejection"]))
    for section, key, _ in _GROUPED_SECTIONS:
        rows += [_row(section, group, stat) for group, stat in metrics[key].items()]
    rows += [_row("gold_letter", letter, stat)
             for letter, stat in metrics["letters"]["gold"].items()]
    rows += [_row("predicted_letter", letter, stat)
             for letter, stat in metrics["letters"]["predicted"].items()]
    if open_metrics is not None:
        groups = {"all": open_metrics, **open_metrics["by_type"]}
        for key, _ in _OPEN_SCORES:
            rows += [_row(f"open_{key}", group, stat[key]) for group, stat in groups.items()]
    return rows


def write_csv(path: str | Path, metrics: dict, open_metrics: dict | None = None) -> None:
    with Path(path).open("w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(metric_rows(metrics, open_metrics))


def write_json(path: str | Path, metrics: dict, config: dict,
               open_metrics: dict | None = None) -> None:
    document = {"config": config, "closed": metrics, "open": open_metrics}
    Path(path).write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")


def write_html(path: str | Path, metrics: dict, config: dict,
               open_metrics: dict | None = None, title: str = "Benchmark run report") -> None:
    Path(path).write_text(render_html(metrics, config, open_metrics, title), encoding="utf-8")


def render_html(metrics: dict, config: dict, open_metrics: dict | None = None,
                title: str = "Benchmark run report") -> str:
    """Return the report page: run configuration, charts and every metrics table."""
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        f"<title>{escape(title)}</title>", f"<style>{_STYLE}</style>", "</head>", "<body>",
        f"<h1>{escape(title)}</h1>", f"<p>Generated {generated}. Accuracies count unparsed, "
        "missing and skipped questions as wrong; brackets give 95% bootstrap intervals.</p>",
        "<h2>Run configuration</h2>", _config_table(config),
        "<h2>Charts</h2>", '<div class="charts">', *_charts(metrics), "</div>",
        "<h2>Summary</h2>", _table(_summary_rows(metrics), "summary"),
    ]
    for section, key, heading in _GROUPED_SECTIONS:
        parts += [f"<h2>{escape(heading)}</h2>",
                  _table([_row(section, group, stat) for group, stat in metrics[key].items()],
                         section)]
    parts += ["<h2>Letter distribution</h2>", _letter_table(metrics)]
    if open_metrics is not None:
        parts += ["<h2>Open questions</h2>", _open_table(open_metrics)]
    parts += ["</body>", "</html>"]
    return "\n".join(parts)


def _charts(metrics: dict) -> list[str]:
    by_type = [(name, stat["accuracy"], stat["ci95"]) for name, stat in metrics["by_type"].items()]
    trap = [("trap", metrics["trap"]["accuracy"], metrics["trap"]["ci95"]),
            ("non-trap", metrics["non_trap"]["accuracy"], metrics["non_trap"]["ci95"])]
    letters = metrics["letters"]
    rows = []
    for key, predicted in letters["predicted"].items():
        gold = letters["gold"].get(key)
        if gold is None and predicted["count"] == 0:
            continue
        rows.append((key, [(predicted["rate"], predicted["ci95"]),
                           (gold["rate"] if gold else None, None)]))
    return [
        bar_chart("Accuracy by question type", by_type, "chart-type"),
        bar_chart("Trap vs non-trap accuracy", trap, "chart-trap"),
        grouped_bar_chart("Predicted vs gold letters", rows, ["predicted", "gold"],
                          "chart-letters"),
    ]


def _format(value: Any, share: bool) -> str:
    if value is None:
        return "–"
    if share:
        return f"{100 * value:.1f}%"
    return str(value)


def _interval(row: dict) -> str:
    if row["ci_low"] is None:
        return "–"
    return f"[{100 * row['ci_low']:.1f}, {100 * row['ci_high']:.1f}]"


def _table(rows: list[dict], name: str) -> str:
    lines = [f'<table class="metrics" data-section="{escape(name)}">',
             "<tr><th>Group</th><th>Questions</th><th>Count</th><th>Value</th>"
             "<th>95% interval</th></tr>"]
    for row in rows:
        lines.append(f"<tr><td>{escape(str(row['group']))}</td><td>{_format(row['total'], False)}"
                     f"</td><td>{_format(row['count'], False)}</td>"
                     f"<td>{_format(row['value'], True)}</td><td>{_interval(row)}</td></tr>")
    lines.append("</table>")
    return "\n".join(lines)


def _summary_rows(metrics: dict) -> list[dict]:
    rows = [_row("summary", "accuracy", metrics["overall"]),
            _row("summary", "trap accuracy", metrics["trap"]),
            _row("summary", "non-trap accuracy", metrics["non_trap"]),
            _row("summary", "false-rejection rate", metrics["false_rejection"]),
            _row("summary", "unparsed rate", metrics["unparsed_rate"])]
    total = metrics["overall"]["total"]
    for outcome in OUTCOMES:
        count = metrics["outcomes"][outcome]
        rows.append(_row("summary", outcome, {"total": total, "count": count,
                                              "rate": count / total if total else None}))
    return rows


def _letter_table(metrics: dict) -> str:
    letters = metrics["letters"]
    lines = ['<table class="metrics" data-section="letters">',
             "<tr><th>Letter</th><th>Gold</th><th>Gold share</th><th>Predicted</th>"
             "<th>Predicted share</th><th>95% interval</th></tr>"]
    for key, predicted in letters["predicted"].items():
        gold = letters["gold"].get(key, {"count": None, "rate": None})
        row = _row("letters", key, predicted)
        lines.append(f"<tr><td>{escape(key)}</td><td>{_format(gold['count'], False)}</td>"
                     f"<td>{_format(gold['rate'], True)}</td>"
                     f"<td>{predicted['count']}</td><td>{_format(predicted['rate'], True)}</td>"
                     f"<td>{_interval(row)}</td></tr>")
    lines.append("</table>")
    return "\n".join(lines)


def _open_table(open_metrics: dict) -> str:
    groups = {"all": open_metrics, **open_metrics["by_type"]}
    lines = ['<table class="metrics" data-section="open">',
             "<tr><th>Group</th><th>Questions</th><th>Keyword recall (substring)</th>"
             "<th>Keyword recall (whole word)</th><th>ROUGE-L F</th><th>BLEU</th></tr>"]
    for name, group in groups.items():
        cells = []
        for key, field in _OPEN_SCORES:
            stat = group[key]
            if field == "score":
                cells.append("–" if stat[field] is None else f"{stat[field]:.2f}")
            else:
                cells.append(_format(stat[field], True))
        lines.append(f"<tr><td>{escape(name)}</td><td>{group['total']}</td>"
                     + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
    lines.append("</table>")
    return "\n".join(lines)


def _config_table(config: dict) -> str:
    lines = ['<table class="config">', "<tr><th>Setting</th><th>Value</th></tr>"]
    for key, value in config.items():
        text = value if isinstance(value, str) else json.dumps(value, indent=1, default=str)
        lines.append(f'<tr><td>{escape(str(key))}</td><td class="config">{escape(text)}</td></tr>')
    lines.append("</table>")
    return "\n".join(lines)
