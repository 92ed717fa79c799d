"""Counts that describe an imported benchmark (``neuroonco bench stats``)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import select

from db.models import BenchmarkItem, Question
from db.session import Database
from engine.bench.catalog import get_benchmark
from engine.io.benchmark import normalise_option


def benchmark_stats(db: Database, name: str) -> dict[str, Any]:
    """Return the counts of benchmark ``name``: items, questions by type and layout, traps, ...

    ``traps_offering_original`` counts traps that offer their removed answer in another
    spelling among A-D. ``binary`` and ``five_option`` count closed questions with 2 and 5 options;
    ``duplicate_option_questions`` those whose options repeat after normalising case and
    separators, and ``duplicate_options_with_gold`` those among them whose gold option is
    one of the repeats. Raises NotFoundError for an unknown benchmark.
    """
    with db.session() as session:
        benchmark = get_benchmark(session, name)
        items = session.execute(
            select(BenchmarkItem.id, BenchmarkItem.tumour_class, BenchmarkItem.source,
                   BenchmarkItem.image_missing)
            .where(BenchmarkItem.benchmark_id == benchmark.id)
        ).all()
        questions = session.execute(
            select(Question.item_id, Question.kind, Question.question_type, Question.options,
                   Question.gold_letter, Question.is_trap, Question.original_answer,
                   Question.duplicate_options)
            .join(BenchmarkItem, Question.item_id == BenchmarkItem.id)
            .where(BenchmarkItem.benchmark_id == benchmark.id)
        ).all()
        data_root = benchmark.data_root

    closed = [question for question in questions if question.kind == "closed"]
    opened = [question for question in questions if question.kind == "open"]
    option_counts = Counter(len(question.options or {}) for question in closed)
    duplicates = [question for question in closed if question.duplicate_options]
    return {
        "name": name,
        "items": len(items),
        "questions": len(closed),
        "by_type": _count(question.question_type for question in closed),
        "traps": sum(question.is_trap for question in closed),
        "traps_by_type": _count(question.question_type for question in closed
                                if question.is_trap),
        "traps_offering_original": sum(_offers_original(question) for question in closed),
        "binary": option_counts.get(2, 0),
        "five_option": option_counts.get(5, 0),
        "by_option_count": {str(count): n for count, n in sorted(option_counts.items())},
        "gold_letters": dict(sorted(Counter(question.gold_letter for question in closed).items())),
        "duplicate_option_questions": len(duplicates),
        "duplicate_options_with_gold": sum(question.gold_letter in question.duplicate_options
                                           for question in duplicates),
        "open_items": len({question.item_id for question in opened}),
        "open_questions": len(opened),
        "open_by_type": _count(question.question_type for question in opened),
        "by_class": _count(item.tumour_class or "unknown" for item in items),
        "by_source": _count(item.source or "unknown" for item in items),
        "data_root": data_root,
        "images_missing": sum(item.image_missing for item in items),
    }


def _offers_original(question) -> bool:  # noqa: ANN001 - a result row
    if not question.is_trap or not question.original_answer:
        return False
    original = normalise_option(question.original_answer)
    return any(normalise_option(text) == original
               for letter, text in question.options.items() if letter != "E")


def _count(values) -> dict[str, int]:  # noqa: ANN001 - any iterable of strings
    """Return counts most frequent first, ties by name, as a plain dict for JSON."""
    counts = Counter(values)
    return dict(sorted(counts.items(), key=lambda pair: (-pair[1], pair[0])))
