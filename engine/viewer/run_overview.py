"""Runs with their accuracy beside the clinicians' agreement with their answers."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from db.models import Run
from db.session import Database
from engine.bench.run_catalog import list_runs
from engine.review import agreement_by_run


@dataclass(frozen=True)
class RunOverview:
    """A run's accuracy and review agreement.

    ``accuracy`` counts every planned closed question (unanswered ones are wrong) and is
    None for a run without closed questions. ``agreement`` is the share of reviewed answers
    that reviewers agreed with (each reviewer's current verdict counts once; a flag counts
    as reviewed, not agreed), None before the first review.
    """

    run_id: int
    name: str
    benchmark: str
    model: str
    status: str
    answers: int
    accuracy: float | None
    reviewed: int
    agreed: int
    agreement: float | None


def run_overview(db: Database, benchmark: str | None = None) -> list[RunOverview]:
    """Return one overview per run (of ``benchmark``, or all), oldest first."""
    runs = list_runs(db, benchmark)
    with db.session() as session:
        ids = dict(session.execute(select(Run.name, Run.id)).all())
        agreement = agreement_by_run(session)
    result = []
    for run in runs:
        run_id = ids[run["name"]]
        review = agreement.get(run_id, {})
        reviewed = int(review.get("reviewed", 0))
        result.append(RunOverview(
            run_id=run_id, name=run["name"], benchmark=run["benchmark"], model=run["model"],
            status=run["status"], answers=run["answers"], accuracy=run["accuracy"],
            reviewed=reviewed, agreed=int(review.get("agree", 0)),
            agreement=review.get("agreement") if reviewed else None,
        ))
    return result
