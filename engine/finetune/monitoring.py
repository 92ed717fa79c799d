"""What the training monitor shows, read from the database and the run's log file.

The GUI polls :func:`read_snapshot` with the id of the last metric row it has, so each
poll returns only new rows. Everything returned is plain data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import select

from db.models import Adapter, Checkpoint, TrainingMetric
from db.session import Database
from engine.finetune.records import CheckpointEntry, MetricPoint, RunInfo, RunSnapshot
from engine.finetune.runs import get_run

LOG_TAIL_LINES = 200
# The log tail is read from at most this many bytes at the end of the file.
LOG_TAIL_BYTES = 64 * 1024


def read_metrics(db: Database, run_id: int, after_id: int = 0) -> list[MetricPoint]:
    with db.session() as session:
        rows = session.scalars(select(TrainingMetric)
                               .where(TrainingMetric.training_run_id == run_id,
                                      TrainingMetric.id > after_id)
                               .order_by(TrainingMetric.step, TrainingMetric.id))
        return [MetricPoint(row.id, row.step, row.epoch, row.loss, row.learning_rate, row.val_loss,
                            row.samples_per_second, row.gpu_memory_mb, _aware(row.created_at))
                for row in rows]


def read_checkpoints(db: Database, run_id: int) -> list[CheckpointEntry]:
    with db.session() as session:
        rows = list(session.scalars(select(Checkpoint).where(Checkpoint.training_run_id == run_id)
                                    .order_by(Checkpoint.step)))
        adapters: dict[int, list[str]] = {}
        if rows:
            for checkpoint_id, name in session.execute(
                    select(Adapter.checkpoint_id, Adapter.name)
                    .where(Adapter.checkpoint_id.in_([row.id for row in rows]))):
                adapters.setdefault(checkpoint_id, []).append(name)
        return [CheckpointEntry(row.id, row.step, row.path, row.val_loss,
                                tuple(sorted(adapters.get(row.id, ())))) for row in rows]


def log_tail(path: str | Path, lines: int = LOG_TAIL_LINES) -> str:
    """Return the last ``lines`` lines of a log file ("" when it does not exist yet)."""
    path = Path(path)
    if not path.is_file():
        return ""
    with path.open("rb") as handle:
        handle.seek(0, 2)
        size = handle.tell()
        handle.seek(max(0, size - LOG_TAIL_BYTES))
        text = handle.read().decode("utf-8", errors="replace")
    return "\n".join(text.splitlines()[-lines:])


def eta_seconds(run: RunInfo, metrics: list[MetricPoint]) -> float | None:
    """Estimate the seconds left from the step rate of the current attempt.

    An estimate: the remaining steps are assumed to take as long as the mean step since
    the attempt started (``started_at``, reset on resume); validation passes still to come
    are not counted.
    """
    started = _aware(run.started_at)
    if not run.is_active or not run.total_steps or started is None:
        return None
    this_attempt = [point.step for point in metrics
                    if point.created_at is not None and point.created_at >= started]
    if not this_attempt:
        return None
    done = run.step - (min(this_attempt) - 1)
    elapsed = (datetime.now(timezone.utc) - started).total_seconds()
    if done <= 0 or elapsed <= 0:
        return None
    return elapsed / done * max(run.total_steps - run.step, 0)


def _aware(moment: datetime | None) -> datetime | None:
    # SQLite returns naive datetimes for timezone-aware columns; they are stored in UTC.
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment


def read_snapshot(db: Database, ref: int | str, after_metric_id: int = 0) -> RunSnapshot:
    """Return the run, its metric rows after ``after_metric_id``, checkpoints, log tail and ETA."""
    run = get_run(db, ref)
    new_metrics = read_metrics(db, run.id, after_metric_id)
    last_id = max([after_metric_id] + [point.id for point in new_metrics])
    all_metrics = new_metrics if after_metric_id == 0 else read_metrics(db, run.id)
    return RunSnapshot(run=run, metrics=new_metrics, checkpoints=read_checkpoints(db, run.id),
                       log_tail=log_tail(run.log_path), eta_seconds=eta_seconds(run, all_metrics),
                       last_metric_id=last_id)
