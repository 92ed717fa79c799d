"""Starting, resuming and benchmarking training runs for the window, with the CLI's calls.

Each function bundles the engine calls of one ``neuroonco finetune`` action, so that the
window can run it on a worker thread in one piece. They start a run (``finetune start``),
resume one (``finetune resume``), render the first-batch preview (``finetune preview``)
and create the base and adapter sessions of the post-training benchmark.
"""

from __future__ import annotations

from dataclasses import dataclass

from db.session import Database
from engine.errors import InvalidInputError
from engine.finetune import runs
from engine.finetune.config import FineTuneConfig
from engine.finetune.process import start_run_process, wait_for_exit
from engine.finetune.records import RunInfo
from engine.finetune.validation import (Environment, InstructionSetChoice, ModelChoice,
                                        detect_environment)


@dataclass(frozen=True)
class DialogInputs:
    """Inputs of the fine-tune dialog: models, instruction sets, machine, taken names."""

    models: tuple[ModelChoice, ...]
    instruction_sets: tuple[InstructionSetChoice, ...]
    environment: Environment
    run_names: frozenset[str]


def dialog_inputs(db: Database) -> DialogInputs:
    """Return the dialog's inputs; detecting the environment imports torch (seconds)."""
    return DialogInputs(tuple(runs.model_choices(db).values()),
                        tuple(runs.instruction_set_choices(db)), detect_environment(),
                        frozenset(run.name for run in runs.list_runs(db)))


def start_training(db: Database, config: FineTuneConfig,
                   environment: Environment | None = None) -> RunInfo:
    """Create the run of ``config`` and start its detached training process.

    Raises InvalidInputError for invalid settings (nothing is written then).
    """
    run = runs.create_run(db, config, environment)
    start_run_process(db, run)
    return runs.get_run(db, run.id)


def resume_training(db: Database, ref: int | str) -> RunInfo:
    """Queue a cancelled or failed run again and start its process from the latest checkpoint.

    The process of a run cancelled a moment ago may still be exiting, so this waits for it.
    Raises InvalidInputError while the run's process is still alive, WorkbenchError for a
    run that is not cancelled or failed.
    """
    wait_for_exit(runs.get_run(db, ref))
    run = runs.prepare_resume(db, ref)
    start_run_process(db, run)
    return runs.get_run(db, run.id)


def preview_text(db: Database, config: FineTuneConfig) -> str:
    """Return the first training batch of ``config`` as text, as the model receives it."""
    from engine.finetune.model_setup import load_processor
    from engine.finetune.preview import preview_first_batch
    from engine.inference.registry import get_model

    if not config.base_model:
        raise InvalidInputError("choose a base model for the preview")
    record = get_model(db, config.base_model)
    return preview_first_batch(config, load_processor(record.path), db).render()


def create_post_training_sessions(db: Database, run_ref: int | str, adapter: str, benchmark: str, *,
                                  setting: str = "rejection-aware", mode: str = "generate",
                                  seed: int = 0, limit: int | None = None) -> list[int]:
    """Create the base and adapter sessions of the post-training benchmark; return their ids.

    The sessions are those of ``engine.finetune.post_training.benchmark_plan`` and are
    answered by ``bench.run`` jobs. Both are checked before either is written, so an error
    (an unknown adapter, missing model files) leaves no session behind.
    """
    from engine.finetune.post_training import create_sessions

    return create_sessions(db, run_ref, adapter, benchmark, setting=setting, mode=mode, seed=seed,
                           limit=limit)
