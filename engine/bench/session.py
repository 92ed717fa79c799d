"""Running a benchmark session: ask every unanswered question of a run and store each answer.

The answers of one image are committed in one short write transaction as soon as the
answerer returns them, and no transaction stays open while the answerer works. A session
killed at any point therefore loses at most the image it was answering. Resuming rebuilds
the run's plan, skips every question that already has an ``answer`` row and asks the rest;
the unique (run, question) key and a check inside each write transaction keep answers
from being stored twice. Metrics are never kept here: ``run_metrics`` recomputes them from
all stored answers.

Questions about a missing image (``benchmark_item.image_missing``, or no file under the
data root now) get a row with ``skipped`` set when the answerer needs the image; baselines
need none and answer them.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select

from db.models import Answer, Benchmark, Run
from db.session import Database
from engine.bench import model_backends
from engine.bench.answer_rows import (SKIPPED_IMAGE_MISSING, SKIPPED_IMAGE_NOT_FOUND,
                                      OpenScorer, answer_values, skipped_values)
from engine.bench.answerer import Answerer, ImageInput
from engine.bench.judge import judge_open_answers
from engine.bench.model_answerer import with_hashes_filled
from engine.bench.plan import ImageGroup, Plan, load_plan
from engine.bench.run_catalog import set_status
from engine.bench.runs import CANCELLED, FAILED, FINISHED, RUNNING, build_answerer
from engine.errors import Cancelled, InvalidInputError, WorkbenchError
from engine.io.benchmark_paths import OutsideRootError, resolve_in_root
from engine.progress import NullProgress, Progress

log = logging.getLogger(__name__)


def run_session(db: Database, run_id: int, progress: Progress | None = None,
                answerer: Answerer | None = None, job_id: int | None = None) -> dict[str, Any]:
    """Answer the run's unanswered questions; return counts of what this call did.

    ``answerer`` replaces the run's own (baseline or registered model) and must describe
    itself as the run's configuration records. Raises Cancelled when cancelled (the run is
    then ``cancelled`` and every answer stored so far stays), WorkbenchError for an external
    run or an answerer that changed since the run was created.
    """
    progress = progress or NullProgress()
    with db.session() as session:
        run = session.get(Run, run_id)
        if run is None:
            raise WorkbenchError(f"run {run_id} not found; it may have been deleted")
        if run.external:
            raise WorkbenchError(f"run '{run.name}' was imported from a prediction file and has "
                                 "no session to run")
        session.expunge(run)
        data_root = session.scalar(select(Benchmark.data_root)
                                   .where(Benchmark.id == run.benchmark_id))
        plan = load_plan(session, run.benchmark_id, run.setting, run.config["include_open"],
                         run.config["limit"])
        stored = set(session.scalars(select(Answer.question_id).where(Answer.run_id == run_id)))

    own_answerer = answerer is None
    answerer = build_answerer(db, run) if own_answerer else answerer
    try:
        # Checked before the status changes, so a rejected resume leaves the run as it was.
        _check_answerer(run, answerer)
        counts = _run_checked(db, run, plan, stored, answerer, data_root, progress, job_id)
    finally:
        if own_answerer:
            answerer.close()
    log.info("run %s finished: %s", run.name, counts)
    return {"run": run.name, "questions": len(plan.questions), **counts}


def _run_checked(db: Database, run: Run, plan: Plan, stored: set[int], answerer: Answerer,
                 data_root: str | None, progress: Progress,
                 job_id: int | None) -> dict[str, int]:
    """Answer and judge, keeping the run's status up to date."""
    set_status(db, run.id, RUNNING, job_id)
    try:
        counts = _answer_all(db, run, plan.groups, stored, answerer, data_root, progress)
        if run.config.get("judge"):
            judge = model_backends.model_judge(db, run.config["judge"])
            try:
                counts["judged"] = judge_open_answers(db, run.id, judge, run.config["judge"],
                                                      progress)
            finally:
                judge.close()
    except (Cancelled, KeyboardInterrupt):
        set_status(db, run.id, CANCELLED)
        raise
    except BaseException:
        set_status(db, run.id, FAILED)
        raise
    set_status(db, run.id, FINISHED)
    return counts


def _check_answerer(run: Run, answerer: Answerer) -> None:
    described = answerer.describe()
    recorded = run.config.get("answerer")
    if described != recorded and described != with_hashes_filled(recorded, described):
        raise WorkbenchError(
            f"run '{run.name}' was created with answerer {run.config.get('answerer')!r}, but "
            f"it is now {described!r} (changed model files, template or settings); start a "
            "new run so that its answers come from one configuration")


def _answer_all(db: Database, run: Run, groups: list[ImageGroup], stored: set[int],
                answerer: Answerer, data_root: str | None,
                progress: Progress) -> dict[str, int]:
    pending = []
    for group in groups:
        questions = [question for question in group.questions
                     if question.question_id not in stored]
        if questions:
            pending.append((group, questions))
    total = sum(len(questions) for _, questions in pending)
    before = len(stored)
    progress.start(total, f"{run.name}: {total} questions to answer"
                          + (f", {before} answered before" if before else ""))

    scorer = OpenScorer()
    answered = skipped = 0
    for group, questions in pending:
        progress.check()
        image, reason = _image(group, data_root)
        if reason is not None and answerer.needs_image:
            rows = [skipped_values(question, reason) for question in questions]
        else:
            answers = answerer.answer_image(image, questions)
            if len(answers) != len(questions):
                raise WorkbenchError(f"the answerer returned {len(answers)} answers for the "
                                     f"{len(questions)} questions of item {group.item_id}")
            rows = [answer_values(question, answer, run.mode, scorer)
                    for question, answer in zip(questions, answers)]
        inserted = _store(db, run.id, rows)
        answered += sum(row.get("skipped") is None for row in inserted)
        skipped += sum(row.get("skipped") is not None for row in inserted)
        progress.advance(len(questions), message=_message(progress, len(questions)))
    return {"answered_before": before, "answered_now": answered, "skipped_now": skipped}


def _image(group: ImageGroup, data_root: str | None) -> tuple[ImageInput, str | None]:
    """Return the item's image and, when it cannot be read, why."""
    missing = ImageInput(group.item_id, group.image_path, None, group.slice_id)
    if group.image_missing or data_root is None:
        return missing, SKIPPED_IMAGE_MISSING
    try:
        path = resolve_in_root(Path(data_root), group.image_path)
    except (OutsideRootError, InvalidInputError):
        return missing, SKIPPED_IMAGE_NOT_FOUND
    if not path.is_file():
        return missing, SKIPPED_IMAGE_NOT_FOUND
    return ImageInput(group.item_id, group.image_path, path, group.slice_id), None


def _store(db: Database, run_id: int, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Insert the rows whose question has no answer yet, in one transaction; return them.

    NOTE: on SQLite the write transaction holds the write lock from its start, so two
    sessions of one run never store an answer twice. On PostgreSQL the unique (run,
    question) key still rejects a second answer, but the later session then fails with an
    integrity error; jobs prevent such parallel sessions, in-process sessions do not.
    """
    ids = [row["question_id"] for row in rows]
    with db.session(write=True) as session:
        existing = set(session.scalars(select(Answer.question_id).where(
            Answer.run_id == run_id, Answer.question_id.in_(ids))))
        new = [row for row in rows if row["question_id"] not in existing]
        session.add_all(Answer(run_id=run_id, **row) for row in new)
    return new


def _message(progress: Progress, units: int) -> str:
    done = progress.done + units
    total = progress.total or done
    text = f"answered {done} of {total} questions"
    if done < total:
        seconds_per_question = (time.monotonic() - progress.started) / done
        text += f", about {seconds_per_question * (total - done):.0f} s left"
    return text
