"""Helpers for benchmark tests: the real v1.0 files and small files made from their items."""

from __future__ import annotations

import copy
import json
from pathlib import Path

CLOSED_NAME = "mm-neuroonco_benchmark_closed_v1.0.json"
OPEN_NAME = "mm-neuroonco_benchmark_open_v1.0.json"


def load_items(shared_data: Path, name: str) -> list[dict]:
    return json.loads((shared_data / name).read_text(encoding="utf-8"))


def closed_items(shared_data: Path, ids: list[int]) -> list[dict]:
    """Return deep copies of the real closed items with ``ids``, in that order."""
    by_id = {item["id"]: item for item in load_items(shared_data, CLOSED_NAME)}
    return [copy.deepcopy(by_id[item_id]) for item_id in ids]


def open_items(shared_data: Path, ids: list[int]) -> list[dict]:
    by_id = {item["id"]: item for item in load_items(shared_data, OPEN_NAME)}
    return [copy.deepcopy(by_id[item_id]) for item_id in ids]


def write_json(path: Path, data) -> Path:  # noqa: ANN001 - any JSON value
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")
    return path


def first_trap(item: dict) -> dict:
    """Return the first trap question of ``item``."""
    return next(pair for pair in item["vqa_pairs"] if pair.get("meta_trap"))
