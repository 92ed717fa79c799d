"""The training loop: AdamW, warm-up schedule, gradient accumulation, validation, checkpoints.

The loop is written out (not the Hugging Face Trainer) so that a resumed run reproduces
the uninterrupted one. The data order is a function of seed and step
(:mod:`engine.finetune.order`). A checkpoint contains adapter, optimizer, scheduler,
gradient scaler and every process's random number generator states. On the CPU a run
resumed at step k computes bit-identical losses from step k + 1 on (the tests check
this); CUDA kernels that are not deterministic can make the two differ in the last bits.

The loss is the token-level cross entropy of the assistant tokens, summed over the
micro-batches of one optimizer step (and all processes) and divided by their total
number of label tokens, so gradient accumulation and data parallelism give the same
update as one large batch. Every optimizer step reads the cancel flag; a cancel saves a
checkpoint at that step and stops.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, Sequence

from engine.finetune.checkpoints import (CheckpointInfo, load_adapter_weights, load_trainer_state,
                                         restore_rng_state, rng_state, save_checkpoint)
from engine.finetune.collator import IGNORE_INDEX, Batch, ChatCollator
from engine.finetune.config import FineTuneConfig
from engine.finetune.data import TrainingSample
from engine.finetune.distributed import ProcessGroup, wrap_model
from engine.finetune.model_setup import torch_dtype, trainable_parameters
from engine.finetune.order import DataOrder
from engine.finetune.schedule import build_scheduler

log = logging.getLogger(__name__)

FINISHED, CANCELLED = "finished", "cancelled"


@dataclass
class MetricRow:
    """One logged step. ``loss`` is the mean over the steps since the previous row."""

    step: int
    epoch: float
    loss: float | None
    learning_rate: float | None
    val_loss: float | None = None
    samples_per_second: float | None = None
    gpu_memory_mb: float | None = None


class Reporter(Protocol):
    """Receiver of metric rows, saved checkpoints and cancel checks (rank 0 only)."""

    def metrics(self, row: MetricRow) -> None: ...

    def checkpoint_saved(self, checkpoint: CheckpointInfo) -> None: ...

    def cancel_requested(self) -> bool: ...


@dataclass
class Outcome:
    status: str
    step: int
    total_steps: int
    last_checkpoint: CheckpointInfo | None
    skipped_samples: int


class Trainer:
    """Trains the LoRA weights of ``model`` (a PeftModel) on ``train`` samples."""

    def __init__(self, model: Any, collator: ChatCollator, train: Sequence[TrainingSample],
                 val: Sequence[TrainingSample], config: FineTuneConfig, device: str,
                 output_dir: str | Path, reporter: Reporter | None,
                 group: ProcessGroup | None = None) -> None:
        import torch

        self.model = model
        self.collator = collator
        self.train_samples = list(train)
        self.val_samples = list(val)
        self.config = config
        self.device = device
        self.output_dir = Path(output_dir)
        self.reporter = reporter
        self.group = group or ProcessGroup()
        self.order = DataOrder(len(self.train_samples), config.batch_size,
                               config.gradient_accumulation, config.epochs, config.seed,
                               self.group.world_size)
        self.total_steps = self.order.total_steps
        self.trainable = trainable_parameters(model)
        self.optimizer = torch.optim.AdamW(self.trainable, lr=config.learning_rate,
                                           weight_decay=config.weight_decay)
        self.scheduler = build_scheduler(self.optimizer, config.scheduler, self.total_steps,
                                         config.warmup_ratio)
        self.device_type = device.split(":")[0]
        self.scaler = torch.amp.GradScaler(self.device_type, enabled=config.precision == "fp16")
        self.input_dtype = torch_dtype(config.precision)
        self.skipped: set[str] = set()

    # ------------------------------------------------------------------ resume

    def resume_from(self, checkpoint: CheckpointInfo) -> int:
        """Load adapter, optimizer, scheduler, scaler and RNG states; return the step to continue at."""
        from engine.errors import InvalidInputError

        state = load_trainer_state(checkpoint)
        if state["world_size"] != self.group.world_size:
            raise InvalidInputError(
                f"checkpoint {checkpoint.path} was written by {state['world_size']} process(es); "
                f"resume it with the same number of GPUs ({state['world_size']}), not "
                f"{self.group.world_size}")
        if state["total_steps"] != self.total_steps:
            raise InvalidInputError(
                f"checkpoint {checkpoint.path} belongs to a run of {state['total_steps']} steps, but "
                f"these settings and data give {self.total_steps}; the training data changed")
        load_adapter_weights(self.model, checkpoint)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        restore_rng_state(state["rng"][self.group.rank])
        self.skipped = set(state.get("skipped", ()))
        log.info("resumed from %s at step %d of %d", checkpoint.path, state["step"], self.total_steps)
        return int(state["step"])

    # ------------------------------------------------------------------ training

    def train(self, start_step: int = 0) -> Outcome:
        """Run optimizer steps ``start_step`` ... ``total_steps - 1``; stop early on cancel."""
        model = wrap_model(self.model, self.group, self.device,
                           find_unused=not self.config.freeze_vision_tower)
        window: list[tuple[float, int, float]] = []
        last_checkpoint: CheckpointInfo | None = None
        status = FINISHED
        steps_done = start_step
        for step in range(start_step, self.total_steps):
            started = time.perf_counter()
            loss, samples = self._optimizer_step(model, step)
            steps_done = step + 1
            window.append((loss, samples, time.perf_counter() - started))

            is_last = steps_done == self.total_steps
            save = steps_done % self.config.save_steps == 0 or is_last
            evaluate = bool(self.val_samples) and (
                save or (self.config.eval_steps > 0 and steps_done % self.config.eval_steps == 0))
            val_loss = self.evaluate() if evaluate else None
            if val_loss is not None or is_last or steps_done % self.config.logging_steps == 0:
                self._report(self._row(steps_done, window, val_loss))
                window = []

            cancel = self.group.broadcast_flag(
                self.group.is_main and self.reporter is not None and self.reporter.cancel_requested())
            cancel = cancel and not is_last  # a cancel that arrives with the last step changes nothing
            if cancel and not save:
                if self.val_samples and val_loss is None:
                    val_loss = self.evaluate()
                save = True
            if save:
                last_checkpoint = self.save(steps_done, val_loss)
            if cancel:
                status = CANCELLED
                log.info("cancelled at step %d of %d", steps_done, self.total_steps)
                break
        return Outcome(status, steps_done, self.total_steps, last_checkpoint, len(self.skipped))

    def _optimizer_step(self, model: Any, step: int) -> tuple[float, int]:
        """Run the micro-batches of ``step`` and one optimizer update; return (loss, samples)."""
        import torch

        model.train()
        batches = [self.collator([self.train_samples[i] for i in indices])
                   for indices in self.order.step_micro_batches(step, self.group.rank)]
        for batch in batches:
            self.skipped.update(batch.skipped)
        local_tokens = sum(batch.label_tokens for batch in batches)
        local_samples = sum(batch.size for batch in batches)
        global_tokens, global_samples = self.group.all_reduce_sum([local_tokens, local_samples])

        loss_sum = torch.zeros((), dtype=torch.float64, device=self.device)
        for index, batch in enumerate(batches):
            last = index == len(batches) - 1
            sync = contextlib.nullcontext() if last or not self.group.distributed else model.no_sync()
            with sync:
                if batch.size and global_tokens:
                    batch_loss = self.loss_sum(model, batch)
                    loss_sum += batch_loss.detach().double()
                    scaled = batch_loss * (self.group.world_size / global_tokens)
                else:
                    # Every process must run backward for the gradient all-reduce, even
                    # without tokens; this loss is zero and touches every trainable weight.
                    scaled = sum(parameter.sum() for parameter in self.trainable) * 0.0
                self.scaler.scale(scaled).backward()

        if self.scaler.is_enabled():
            self.scaler.unscale_(self.optimizer)
        if self.config.max_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(self.trainable, self.config.max_grad_norm)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)

        total_loss = self.group.all_reduce_sum([float(loss_sum.item())])[0]
        return (total_loss / global_tokens if global_tokens else float("nan")), int(global_samples)

    def loss_sum(self, model: Any, batch: Batch) -> Any:
        """Return the summed cross entropy of the batch's label tokens (next-token targets)."""
        import torch
        import torch.nn.functional as F

        inputs = self._to_device(batch.inputs)
        labels = batch.labels.to(self.device)
        autocast = (contextlib.nullcontext() if self.config.precision == "fp32"
                    else torch.autocast(self.device_type, dtype=self.input_dtype))
        with autocast:
            logits = model(**inputs).logits
        # Shifting the labels left (instead of slicing the logits) avoids copying the logits.
        targets = F.pad(labels, (0, 1), value=IGNORE_INDEX)[:, 1:]
        return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1),
                               ignore_index=IGNORE_INDEX, reduction="sum")

    def _to_device(self, inputs: dict[str, Any]) -> dict[str, Any]:
        moved = {}
        for key, value in inputs.items():
            if hasattr(value, "to"):
                value = value.to(self.device)
                if value.is_floating_point():
                    value = value.to(self.input_dtype)
            moved[key] = value
        return moved

    # ------------------------------------------------------------------ validation

    def evaluate(self) -> float | None:
        """Return the token-level validation loss over all processes (None without samples)."""
        import torch

        if not self.val_samples:
            return None
        self.model.eval()
        mine = self.val_samples[self.group.rank::self.group.world_size]
        loss_sum, tokens = 0.0, 0
        with torch.no_grad():
            for first in range(0, len(mine), self.config.batch_size):
                batch = self.collator(mine[first:first + self.config.batch_size])
                if batch.size and batch.label_tokens:
                    loss_sum += float(self.loss_sum(self.model, batch))
                    tokens += batch.label_tokens
        self.model.train()
        loss_sum, tokens = self.group.all_reduce_sum([loss_sum, tokens])
        return loss_sum / tokens if tokens else None

    # ------------------------------------------------------------------ output

    def save(self, step: int, val_loss: float | None) -> CheckpointInfo | None:
        """Save checkpoint ``step`` on rank 0 (every process hands in its RNG state)."""
        states = self.group.gather_objects(rng_state())
        if not self.group.is_main:
            return None
        trainer_state = {
            "step": step, "total_steps": self.total_steps, "epoch": self.order.epoch_of(step),
            "micro_batch": self.order.micro_batch_position(step),
            "world_size": self.group.world_size, "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(), "scaler": self.scaler.state_dict(),
            "rng": states, "skipped": sorted(self.skipped),
        }
        info = save_checkpoint(self.output_dir, step, self.model, trainer_state, val_loss)
        log.info("checkpoint step %d saved to %s (validation loss %s)", step, info.path,
                 "n/a" if val_loss is None else f"{val_loss:.4f}")
        if self.reporter is not None:
            self.reporter.checkpoint_saved(info)
        return info

    def _row(self, step: int, window: list[tuple[float, int, float]], val_loss: float | None) -> MetricRow:
        losses = [loss for loss, _, _ in window]
        seconds = sum(elapsed for _, _, elapsed in window)
        samples = sum(count for _, count, _ in window)
        return MetricRow(
            step=step, epoch=round(self.order.epoch_progress(step), 4),
            loss=sum(losses) / len(losses) if losses else None,
            learning_rate=self._lr_of(step - 1),
            val_loss=val_loss, samples_per_second=samples / seconds if seconds > 0 else None,
            gpu_memory_mb=self._gpu_memory_mb())

    def _lr_of(self, step: int) -> float:
        """Return the learning rate optimizer step ``step`` (from 0) used."""
        return self.config.learning_rate * self.scheduler.lr_lambdas[0](step)

    def _gpu_memory_mb(self) -> float | None:
        if self.device_type != "cuda":
            return None
        import torch

        return torch.cuda.max_memory_allocated(self.device) / 2 ** 20

    def _report(self, row: MetricRow) -> None:
        log.info("step %d/%d loss %s lr %.3g%s", row.step, self.total_steps,
                 "n/a" if row.loss is None else f"{row.loss:.4f}", row.learning_rate or 0.0,
                 "" if row.val_loss is None else f" val_loss {row.val_loss:.4f}")
        if self.group.is_main and self.reporter is not None:
            self.reporter.metrics(row)
