"""Helpers for benchmark-session tests: importing the real files and reading stored answers."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import func, select

from benchmark_files import CLOSED_NAME, OPEN_NAME
from db.models import Answer, Question
from engine.bench.importer import import_benchmark
from engine.bench.runs import RunSpec, create_run


def import_real(db, shared_data: Path, name: str = "mm", with_open: bool = False) -> str:
    """Import the released closed file (and the open file) as benchmark ``name``."""
    open_path = shared_data / OPEN_NAME if with_open else None
    import_benchmark(db, shared_data / CLOSED_NAME, open_path, name=name)
    return name


def new_run(db, model: str, benchmark: str = "mm", **options) -> int:
    return create_run(db, RunSpec(benchmark=benchmark, model=model, **options))


def stored_answers(db, run_id: int) -> dict[int, dict]:
    """Return the run's answer rows by question id, as plain dicts."""
    with db.session() as session:
        rows = session.execute(
            select(Answer.question_id, Answer.parsed_letter, Answer.parse_rule, Answer.skipped,
                   Answer.raw_output, Answer.is_correct, Answer.scores, Answer.provenance,
                   Answer.letter_probs, Question.kind)
            .join(Question, Answer.question_id == Question.id)
            .where(Answer.run_id == run_id)).all()
    return {row.question_id: row._asdict() for row in rows}


def answer_count(db, run_id: int) -> tuple[int, int]:
    """Return the run's answer rows and distinct questions among them."""
    with db.session() as session:
        return session.execute(
            select(func.count(), func.count(func.distinct(Answer.question_id)))
            .where(Answer.run_id == run_id)).one()


def question_keys(db) -> dict[int, tuple[int, int, str]]:
    """Return (item id, q_index, kind) of every question by question id."""
    from db.models import BenchmarkItem

    with db.session() as session:
        rows = session.execute(select(Question.id, BenchmarkItem.item_id, Question.q_index,
                                      Question.kind)
                               .join(BenchmarkItem, Question.item_id == BenchmarkItem.id)).all()
    return {row.id: (row.item_id, row.q_index, row.kind) for row in rows}


def write_outputs(db, run_id: int, path: Path) -> Path:
    """Write the run's closed answers as ``{"id", "q_index", "output"}`` prediction lines."""
    keys = question_keys(db)
    lines = []
    for question_id, answer in sorted(stored_answers(db, run_id).items()):
        item_id, q_index, kind = keys[question_id]
        if kind == "closed":
            lines.append({"id": item_id, "q_index": q_index, "output": answer["raw_output"]})
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


def comparable(metrics: dict) -> dict:
    """Return run metrics without the keys that name the run itself."""
    return {key: value for key, value in metrics.items() if key not in ("run", "config")}
