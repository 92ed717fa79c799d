"""Training runs in the database: create, look up, cancel, resume, finish.

A run row is written before its process starts (status ``queued``); the process sets
``running``, then ``succeeded``, ``cancelled`` or ``failed``. Cancel is a flag the
process reads every optimizer step. Every function here is one transaction.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from db.models import InstructionSample, Model, PipelineRun, TrainingRun, utcnow
from db.session import Database, data_dir
from engine.errors import InvalidInputError, NotFoundError, WorkbenchError
from engine.finetune.config import FineTuneConfig
# The status names are re-exported for callers that use the database functions here.
from engine.finetune.records import (ACTIVE, CANCELLED, FAILED, FINAL, QUEUED, RUNNING,  # noqa: F401
                                     SUCCEEDED, RunInfo)
from engine.finetune.validation import (Environment, InstructionSetChoice, ModelChoice,
                                        ValidationContext, raise_for_errors)


def _info(run: TrainingRun, model_name: str | None) -> RunInfo:
    return RunInfo(id=run.id, name=run.name, status=run.status, base_model=model_name,
                   base_model_id=run.base_model_id, config=dict(run.config or {}),
                   output_dir=run.output_dir, pid=run.pid, hostname=run.hostname, step=run.step,
                   total_steps=run.total_steps, message=run.message,
                   cancel_requested=bool(run.cancel_requested), created_at=run.created_at,
                   started_at=run.started_at, finished_at=run.finished_at)


def _model_name(session, model_id: int | None) -> str | None:  # noqa: ANN001 - a Session
    if model_id is None:
        return None
    return session.scalar(select(Model.name).where(Model.id == model_id))


# --------------------------------------------------------------------------- validation


def model_choices(db: Database) -> dict[str, ModelChoice]:
    """Return every registered model as a ModelChoice (the dialog filters to transformers)."""
    with db.session() as session:
        return {model.name: ModelChoice(model.name, model.backend, model.path, model.family,
                                        model.quantization)
                for model in session.scalars(select(Model).order_by(Model.name))}


def instruction_set_choices(db: Database) -> list[InstructionSetChoice]:
    """Return each (pipeline run, split) that has instruction samples, with its sample count."""
    with db.session() as session:
        rows = session.execute(
            select(PipelineRun.name, InstructionSample.split, func.count(InstructionSample.id))
            .join(InstructionSample, InstructionSample.pipeline_run_id == PipelineRun.id)
            .where(InstructionSample.split.is_not(None))
            .group_by(PipelineRun.name, InstructionSample.split)
            .order_by(PipelineRun.name, InstructionSample.split)).all()
    return [InstructionSetChoice(name, split, count) for name, split, count in rows]


def validation_context(db: Database, environment: Environment | None = None,
                       new_run: bool = True) -> ValidationContext:
    """Return the ValidationContext of this database (models, run names) and machine."""
    with db.session() as session:
        names = frozenset(session.scalars(select(TrainingRun.name)))
    return ValidationContext(models=model_choices(db), run_names=names, environment=environment,
                             new_run=new_run)


# --------------------------------------------------------------------------- runs


def default_output_dir(run_name: str) -> Path:
    return data_dir() / "finetune" / run_name


def create_run(db: Database, config: FineTuneConfig, environment: Environment | None = None) -> RunInfo:
    """Validate ``config`` and write a queued run row; raise InvalidInputError for bad settings."""
    raise_for_errors(config, validation_context(db, environment))
    output = Path(config.output_dir).expanduser().resolve() if config.output_dir \
        else default_output_dir(config.run_name)
    config = config.with_values(output_dir=str(output))
    with db.session(write=True) as session:
        model_id = session.scalar(select(Model.id).where(Model.name == config.base_model))
        if model_id is None:
            raise NotFoundError(f"model '{config.base_model}' is not registered")
        if session.scalar(select(TrainingRun.id).where(TrainingRun.name == config.run_name)):
            raise InvalidInputError(f"a training run named '{config.run_name}' already exists; "
                                    "choose another name")
        run = TrainingRun(name=config.run_name, base_model_id=model_id, config=config.to_dict(),
                          status=QUEUED, output_dir=str(output), step=0,
                          message="waiting for the training process to start")
        session.add(run)
        session.flush()
        return _info(run, config.base_model)


def get_run(db: Database, ref: int | str) -> RunInfo:
    """Return the run with id ``ref`` (an int or digits) or name ``ref``."""
    with db.session() as session:
        run = None
        if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
            run = session.get(TrainingRun, int(ref))
        if run is None and isinstance(ref, str):
            run = session.scalar(select(TrainingRun).where(TrainingRun.name == ref))
        if run is None:
            raise NotFoundError(f"training run '{ref}' not found; list runs with "
                                "'neuroonco finetune list'")
        return _info(run, _model_name(session, run.base_model_id))


def list_runs(db: Database) -> list[RunInfo]:
    with db.session() as session:
        runs = list(session.scalars(select(TrainingRun).order_by(TrainingRun.id)))
        return [_info(run, _model_name(session, run.base_model_id)) for run in runs]


def request_cancel(db: Database, ref: int | str) -> RunInfo:
    """Ask an active run to stop; its process saves a checkpoint at the next step."""
    run = get_run(db, ref)
    if not run.is_active:
        raise WorkbenchError(f"training run '{run.name}' is {run.status}; only queued or running "
                             "runs can be cancelled")
    with db.session(write=True) as session:
        row = session.get(TrainingRun, run.id)
        row.cancel_requested = True
        row.message = "cancel requested; the run stops after saving a checkpoint"
    return get_run(db, run.id)


def prepare_resume(db: Database, ref: int | str) -> RunInfo:
    """Queue a cancelled or failed run again; the process continues from its latest checkpoint."""
    from engine.finetune.checkpoints import latest_checkpoint

    run = get_run(db, ref)
    if run.status not in (CANCELLED, FAILED):
        raise WorkbenchError(f"training run '{run.name}' is {run.status}; only cancelled or failed "
                             "runs resume")
    checkpoint = latest_checkpoint(run.output_dir)
    where = f"step {checkpoint.step}" if checkpoint else "the start (no checkpoint was saved)"
    with db.session(write=True) as session:
        row = session.get(TrainingRun, run.id)
        row.status = QUEUED
        row.cancel_requested = False
        row.finished_at = None
        row.pid = None
        row.step = checkpoint.step if checkpoint else 0
        row.message = f"resuming from {where}"
    return get_run(db, run.id)


def set_process(db: Database, run_id: int, pid: int, hostname: str) -> None:
    with db.session(write=True) as session:
        row = session.get(TrainingRun, run_id)
        row.pid = pid
        row.hostname = hostname


def mark_running(db: Database, run_id: int, step: int, total_steps: int, message: str) -> None:
    with db.session(write=True) as session:
        row = session.get(TrainingRun, run_id)
        row.status = RUNNING
        row.step = step
        row.total_steps = total_steps
        row.started_at = utcnow()  # the start of this attempt, so the monitor's ETA skips pauses
        row.message = message


def mark_finished(db: Database, run_id: int, status: str, message: str, step: int | None = None) -> None:
    """Record the end of the run's process (``succeeded``, ``cancelled`` or ``failed``)."""
    with db.session(write=True) as session:
        row = session.get(TrainingRun, run_id)
        row.status = status
        row.message = message
        row.finished_at = utcnow()
        row.cancel_requested = False
        if step is not None:
            row.step = step


def cancel_flag(db: Database, run_id: int) -> bool:
    with db.session() as session:
        return bool(session.scalar(select(TrainingRun.cancel_requested)
                                   .where(TrainingRun.id == run_id)))
