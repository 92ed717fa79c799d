"""A table of runs x metrics, each run's metrics recomputed from its stored answers."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Iterable

from db.session import Database
from engine.bench.metrics import QUESTION_TYPES
from engine.bench.run_metrics import run_metrics_by_name

IDENTITY_COLUMNS = ("run", "benchmark", "model", "adapter", "setting", "mode", "seed",
                    "template", "external", "status")
COUNT_COLUMNS = ("questions", "answered", "unparsed", "skipped", "missing")
CLOSED_COLUMNS = (
    "accuracy", "accuracy_ci_low", "accuracy_ci_high", "trap_accuracy", "non_trap_accuracy",
    "false_rejection_rate", "unparsed_rate", "binary_accuracy", "five_option_accuracy",
    *(f"accuracy_{question_type}" for question_type in QUESTION_TYPES),
)
OPEN_COLUMNS = ("open_questions", "open_keyword_recall_substring", "open_keyword_recall_word",
                "open_rouge_l", "open_bleu")
REVIEW_COLUMNS = ("reviewed", "review_agreement")
COLUMNS = IDENTITY_COLUMNS + COUNT_COLUMNS + CLOSED_COLUMNS + OPEN_COLUMNS + REVIEW_COLUMNS


def compare_runs(db: Database, names: Iterable[str]) -> list[dict[str, Any]]:
    """Return one row per run with the keys of :data:`COLUMNS`, in the order given.

    Raises NotFoundError for an unknown run name.
    """
    return [comparison_row(run_metrics_by_name(db, name)) for name in names]


def comparison_row(metrics: dict[str, Any]) -> dict[str, Any]:
    """Flatten one run's :func:`run_metrics` into a comparison row."""
    run, closed, opened = metrics["run"], metrics["closed"], metrics["open"]
    outcomes = closed["outcomes"]
    interval = closed["overall"]["ci95"] or (None, None)
    row: dict[str, Any] = {
        "run": run["name"], "benchmark": run["benchmark"], "model": run["model"],
        "adapter": run["adapter"], "setting": run["setting"], "mode": run["mode"],
        "seed": run["seed"], "template": run["template_id"], "external": run["external"],
        "status": run["status"],
        "questions": closed["overall"]["total"], "answered": outcomes["answered"],
        "unparsed": outcomes["unparsed"], "skipped": outcomes["skipped"],
        "missing": outcomes["missing"],
        "accuracy": closed["overall"]["accuracy"],
        "accuracy_ci_low": interval[0], "accuracy_ci_high": interval[1],
        "trap_accuracy": closed["trap"]["accuracy"],
        "non_trap_accuracy": closed["non_trap"]["accuracy"],
        "false_rejection_rate": closed["false_rejection"]["rate"],
        "unparsed_rate": closed["unparsed_rate"]["rate"],
        "binary_accuracy": _accuracy(closed["by_option_count"].get("2")),
        "five_option_accuracy": _accuracy(closed["by_option_count"].get("5")),
    }
    for question_type in QUESTION_TYPES:
        row[f"accuracy_{question_type}"] = _accuracy(closed["by_type"].get(question_type))
    row.update({
        "open_questions": opened["total"] if opened else 0,
        "open_keyword_recall_substring": _open(opened, "keyword_recall_substring", "mean"),
        "open_keyword_recall_word": _open(opened, "keyword_recall_word", "mean"),
        "open_rouge_l": _open(opened, "rouge_l", "mean"),
        "open_bleu": _open(opened, "bleu", "score"),
        "reviewed": metrics["review"]["reviewed"],
        "review_agreement": metrics["review"]["agreement"],
    })
    return row


def write_comparison_csv(path: str | Path, rows: list[dict[str, Any]]) -> None:
    with Path(path).open("w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def _accuracy(group: dict | None) -> float | None:
    return group["accuracy"] if group else None


def _open(opened: dict | None, key: str, field: str) -> float | None:
    return opened[key][field] if opened else None
