"""HTML, CSV and JSON reports of one run, from :func:`engine.bench.run_metrics.run_metrics`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.bench import report


def report_config(metrics: dict[str, Any]) -> dict[str, Any]:
    """Return everything a report shows as the run's configuration: identity, the stored
    configuration, answer counts, judge scores and review agreement."""
    run = metrics["run"]
    config: dict[str, Any] = {
        "run": run["name"], "status": run["status"], "external": run["external"],
        "created_at": run["created_at"], "finished_at": run["finished_at"],
    }
    config.update(metrics["config"])
    config["answers"] = metrics["answers"]
    config["judge_scores"] = metrics["judge"]
    config["review"] = metrics["review"]
    config["bootstrap"] = metrics["closed"]["bootstrap"]
    return config


def write_run_report(metrics: dict[str, Any], html: str | Path | None = None,
                     csv: str | Path | None = None, json: str | Path | None = None) -> None:
    """Write the requested report files of one run."""
    config = report_config(metrics)
    if html is not None:
        report.write_html(html, metrics["closed"], config, metrics["open"],
                          title=f"Benchmark run {metrics['run']['name']}")
    if csv is not None:
        report.write_csv(csv, metrics["closed"], metrics["open"])
    if json is not None:
        report.write_json(json, metrics["closed"], config, metrics["open"])
