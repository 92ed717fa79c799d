"""Finding, listing and deleting imported benchmarks by name."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import Benchmark, BenchmarkItem, Question, Run
from db.session import Database
from engine.errors import NotFoundError


def get_benchmark(session: Session, name: str) -> Benchmark:
    """Return the benchmark called ``name``; raise NotFoundError when there is none."""
    benchmark = session.scalar(select(Benchmark).where(Benchmark.name == name))
    if benchmark is None:
        raise NotFoundError(f"benchmark '{name}' not found; list benchmarks with "
                            "'neuroonco bench list'")
    return benchmark


def source_fingerprint(source_files: list[dict[str, Any]]) -> tuple[tuple[str, str], ...]:
    """Return the (role, sha256) pairs that identify a benchmark's imported content."""
    return tuple(sorted((record["role"], record["sha256"]) for record in source_files))


def find_by_content(session: Session, source_files: list[dict[str, Any]]) -> Benchmark | None:
    """Return the benchmark imported from files with the same content, if any."""
    wanted = source_fingerprint(source_files)
    for benchmark in session.scalars(select(Benchmark).order_by(Benchmark.id)):
        if benchmark.source_files and source_fingerprint(benchmark.source_files) == wanted:
            return benchmark
    return None


def list_benchmarks(db: Database) -> list[dict[str, Any]]:
    """Return one summary per benchmark: name, items, questions by kind, data root, missing images."""
    with db.session() as session:
        items = dict(session.execute(
            select(BenchmarkItem.benchmark_id, func.count()).group_by(BenchmarkItem.benchmark_id)
        ).all())
        missing = dict(session.execute(
            select(BenchmarkItem.benchmark_id, func.count())
            .where(BenchmarkItem.image_missing.is_(True))
            .group_by(BenchmarkItem.benchmark_id)
        ).all())
        questions: dict[tuple[int, str], int] = {
            (benchmark_id, kind): count for benchmark_id, kind, count in session.execute(
                select(BenchmarkItem.benchmark_id, Question.kind, func.count())
                .join(Question, Question.item_id == BenchmarkItem.id)
                .group_by(BenchmarkItem.benchmark_id, Question.kind)
            )
        }
        return [
            {
                "name": benchmark.name,
                "items": items.get(benchmark.id, 0),
                "questions": questions.get((benchmark.id, "closed"), 0),
                "open_questions": questions.get((benchmark.id, "open"), 0),
                "data_root": benchmark.data_root,
                "images_missing": missing.get(benchmark.id, 0),
                "created_at": benchmark.created_at,
            }
            for benchmark in session.scalars(select(Benchmark).order_by(Benchmark.name))
        ]


def delete_benchmark(db: Database, name: str) -> dict[str, int]:
    """Delete benchmark ``name`` with its items, questions and runs; return what was deleted.

    The foreign keys cascade in the database, so no item, question, run or answer of the
    benchmark is left behind.
    """
    with db.session(write=True) as session:
        benchmark = get_benchmark(session, name)
        counts = {
            "items": session.scalar(select(func.count()).select_from(BenchmarkItem)
                                    .where(BenchmarkItem.benchmark_id == benchmark.id)),
            "questions": session.scalar(
                select(func.count()).select_from(Question)
                .join(BenchmarkItem, Question.item_id == BenchmarkItem.id)
                .where(BenchmarkItem.benchmark_id == benchmark.id)),
            "runs": session.scalar(select(func.count()).select_from(Run)
                                   .where(Run.benchmark_id == benchmark.id)),
        }
        session.delete(benchmark)
    return counts
