"""One attempt of a training run: load data and model, resume if possible, train, record the end.

:func:`run_training` is what the runner process calls (once per process when several
GPUs train). It starts from the latest checkpoint in the run's output folder, so a
cancelled or failed run that is queued again continues where it stopped.
"""

from __future__ import annotations

import json
import logging
import random
import traceback
from pathlib import Path

import numpy as np

from db.models import Model
from db.session import Database
from engine.errors import NotFoundError, WorkbenchError
from engine.finetune import runs
from engine.finetune.checkpoints import latest_checkpoint
from engine.finetune.collator import ChatCollator
from engine.finetune.config import FineTuneConfig
from engine.finetune.data import load_samples, split_samples
from engine.finetune.distributed import ProcessGroup, init_process_group
from engine.finetune.loop import CANCELLED, Outcome, Trainer
from engine.finetune.model_setup import load_base, load_processor, pick_training_device, wrap_with_lora
from engine.finetune.reporting import DatabaseReporter, prepare_for_resume

log = logging.getLogger(__name__)

CONFIG_FILE = "run_config.json"


def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed % 2 ** 32)
    torch.manual_seed(seed)


def base_model_path(db: Database, run: runs.RunInfo) -> Path:
    with db.session() as session:
        model = session.get(Model, run.base_model_id) if run.base_model_id else None
        if model is None or not model.path:
            raise NotFoundError(f"the base model of training run '{run.name}' is no longer "
                                "registered; register it again under its old name")
        return Path(model.path)


def run_training(db: Database, run_id: int) -> Outcome | None:
    """Train run ``run_id`` in this process; return the outcome (None when cancelled before start).

    Rank 0 records the status; every failure marks the run failed with a one-line message
    (the traceback goes to the log) and is raised again.
    """
    run = runs.get_run(db, run_id)
    config = FineTuneConfig.from_dict(run.config)
    group = ProcessGroup()
    try:
        device_kind = "cuda" if pick_training_device(config).startswith("cuda") else "cpu"
        group = init_process_group(device_kind)
        device = pick_training_device(config, group.local_rank)
        if group.is_main and runs.cancel_flag(db, run_id):
            runs.mark_finished(db, run_id, runs.CANCELLED, "cancelled before training started")
            return None
        outcome = _train(db, run, config, group, device)
    except BaseException as error:
        if group.is_main:
            message = str(error) if isinstance(error, WorkbenchError) else f"{type(error).__name__}: {error}"
            if not isinstance(error, WorkbenchError):
                log.error("training run %s failed:\n%s", run.name, traceback.format_exc())
            runs.mark_finished(db, run_id, runs.FAILED, message or type(error).__name__)
        raise
    finally:
        group.close()
    return outcome


def _train(db: Database, run: runs.RunInfo, config: FineTuneConfig, group: ProcessGroup,
           device: str) -> Outcome:
    output = Path(run.output_dir)
    if group.is_main:
        output.mkdir(parents=True, exist_ok=True)
        (output / CONFIG_FILE).write_text(json.dumps(config.to_dict(), indent=2) + "\n", encoding="utf-8")
        runs.mark_running(db, run.id, run.step, run.total_steps or 0, "loading data and model")

    samples = load_samples(config.datasets, config.image_root, db)
    train, val = split_samples(samples, config.val_split, config.seed)
    path = base_model_path(db, run)
    log.info("run %s: %d training and %d validation samples, base %s on %s (%d process(es))",
             run.name, len(train), len(val), path, device, group.world_size)

    seed_everything(config.seed)
    processor = load_processor(path)
    model, _plan = wrap_with_lora(load_base(path, config, device), config)
    collator = ChatCollator(processor, config.max_length, config.max_image_pixels)
    reporter = DatabaseReporter(db, run.id) if group.is_main else None
    trainer = Trainer(model, collator, train, val, config, device, output, reporter, group)

    checkpoint = latest_checkpoint(output)
    start = trainer.resume_from(checkpoint) if checkpoint else 0
    if group.is_main:
        prepare_for_resume(db, run.id, str(output), start)
        where = f"resumed at step {start}" if checkpoint else "started"
        runs.mark_running(db, run.id, start, trainer.total_steps,
                          f"training ({where}; {len(train)} training, {len(val)} validation samples)")

    outcome = trainer.train(start)

    if group.is_main:
        reporter.flush()
        skipped = (f"; {outcome.skipped_samples} sample(s) skipped because their prompt exceeds "
                   f"the maximum length {config.max_length}" if outcome.skipped_samples else "")
        if outcome.status == CANCELLED:
            runs.mark_finished(db, run.id, runs.CANCELLED,
                               f"cancelled at step {outcome.step} of {outcome.total_steps}; "
                               f"checkpoint saved{skipped}", outcome.step)
        else:
            runs.mark_finished(db, run.id, runs.SUCCEEDED,
                               f"finished {outcome.total_steps} steps{skipped}", outcome.step)
    return outcome
