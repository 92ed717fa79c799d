"""Writing a run's metrics and checkpoints to the database from the training process.

Metric rows are buffered and written at most every :data:`FLUSH_INTERVAL_S` seconds (and at
every checkpoint and at the end), so the database costs the training loop one short read
per step (the cancel flag) and one write every few seconds. The run's ``step`` column
follows the last written metric.
"""

from __future__ import annotations

import logging
import time

from sqlalchemy import delete, select

from db.models import Checkpoint, TrainingMetric, TrainingRun
from db.session import Database
from engine.finetune.checkpoints import CheckpointInfo, list_checkpoints
from engine.finetune.loop import MetricRow

log = logging.getLogger(__name__)

FLUSH_INTERVAL_S = 2.0


class DatabaseReporter:
    """The training loop's reporter for run ``run_id`` (used on rank 0 only)."""

    def __init__(self, db: Database, run_id: int, flush_interval_s: float = FLUSH_INTERVAL_S) -> None:
        self.db = db
        self.run_id = run_id
        self.flush_interval_s = flush_interval_s
        self._pending: list[MetricRow] = []
        self._last_flush = time.monotonic()
        self._cancel_query = select(TrainingRun.cancel_requested).where(TrainingRun.id == run_id)

    def metrics(self, row: MetricRow) -> None:
        self._pending.append(row)
        if time.monotonic() - self._last_flush >= self.flush_interval_s:
            self.flush()

    def checkpoint_saved(self, checkpoint: CheckpointInfo) -> None:
        self.flush()
        record_checkpoint(self.db, self.run_id, checkpoint)

    def cancel_requested(self) -> bool:
        # A Core query on a pooled connection: about a third of an ORM session's cost, and it
        # runs every optimizer step.
        with self.db.engine.connect() as connection:
            return bool(connection.execute(self._cancel_query).scalar())

    def flush(self) -> None:
        """Write the buffered metric rows and the run's current step in one transaction."""
        self._last_flush = time.monotonic()
        if not self._pending:
            return
        rows, self._pending = self._pending, []
        with self.db.session(write=True) as session:
            for row in rows:
                session.add(TrainingMetric(
                    training_run_id=self.run_id, step=row.step, epoch=row.epoch, loss=row.loss,
                    learning_rate=row.learning_rate, val_loss=row.val_loss,
                    samples_per_second=row.samples_per_second, gpu_memory_mb=row.gpu_memory_mb))
            run = session.get(TrainingRun, self.run_id)
            run.step = rows[-1].step


def record_checkpoint(db: Database, run_id: int, checkpoint: CheckpointInfo) -> None:
    """Insert (or update) the checkpoint row of ``checkpoint.step``."""
    with db.session(write=True) as session:
        row = session.scalar(select(Checkpoint).where(Checkpoint.training_run_id == run_id,
                                                      Checkpoint.step == checkpoint.step))
        if row is None:
            session.add(Checkpoint(training_run_id=run_id, step=checkpoint.step,
                                   path=str(checkpoint.path), val_loss=checkpoint.val_loss))
        else:
            row.path = str(checkpoint.path)
            row.val_loss = checkpoint.val_loss


def prepare_for_resume(db: Database, run_id: int, output_dir: str, step: int) -> None:
    """Make the database agree with the checkpoint the run resumes from.

    Metric rows after ``step`` came from an attempt that died before its next checkpoint;
    the resumed attempt writes them again. Checkpoint folders that have no row yet (the
    process died between writing the folder and the row) get one.
    """
    with db.session(write=True) as session:
        session.execute(delete(TrainingMetric).where(TrainingMetric.training_run_id == run_id,
                                                     TrainingMetric.step > step))
        session.execute(delete(Checkpoint).where(Checkpoint.training_run_id == run_id,
                                                 Checkpoint.step > step))
    for checkpoint in list_checkpoints(output_dir):
        if checkpoint.step <= step:
            record_checkpoint(db, run_id, checkpoint)
