"""Files the comparison window writes and reads: comparison tables, run reports, prediction files.

Each function is the one the matching ``neuroonco bench`` command uses, wrapped so that the
window can pass a single path whose suffix chooses the format.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from db.models import Run
from db.session import Database
from engine.bench.compare import write_comparison_csv
from engine.bench.external import import_predictions
from engine.bench.run_metrics import run_metrics_by_name
from engine.bench.run_report import write_run_report
from engine.errors import InvalidInputError

REPORT_SUFFIXES = (".html", ".csv", ".json")


def write_comparison(path: str | Path, rows: list[dict[str, Any]]) -> Path:
    """Write comparison rows as CSV or JSON, chosen by the suffix of ``path``."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        write_comparison_csv(path, rows)
    elif suffix == ".json":
        path.write_text(json.dumps(rows, indent=2, default=str) + "\n", encoding="utf-8")
    else:
        raise InvalidInputError(f"cannot write a comparison to '{path.name}'; use a .csv or "
                                ".json file name")
    return path


def write_report(db: Database, run_name: str, path: str | Path) -> Path:
    """Write run ``run_name``'s report as HTML (self-contained, with charts), CSV or JSON."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in REPORT_SUFFIXES:
        raise InvalidInputError(f"cannot write a run report to '{path.name}'; use a .html, "
                                ".csv or .json file name")
    metrics = run_metrics_by_name(db, run_name)
    write_run_report(metrics, **{suffix[1:]: path})
    return path


def import_prediction_file(db: Database, benchmark: str, path: str | Path) -> str:
    """Import a ``preds_*.jsonl`` file as an external run of ``benchmark``; return its name."""
    run_id = import_predictions(db, benchmark, path)
    with db.session() as session:
        return session.get(Run, run_id).name
