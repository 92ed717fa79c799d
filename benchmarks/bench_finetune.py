"""Step time of the engine's training loop against a plain PEFT loop, in the same script.

Both loops train the same LoRA (same base, targets, seed) on the same micro-batches built
by the same collator, for the same number of optimizer steps:

(a) plain: ``loss = model(**inputs, labels=labels).loss / accumulation``, ``backward``,
    gradient clipping, ``AdamW.step``, cosine scheduler step, ``zero_grad``, the loop of
    the PEFT and transformers examples;
(b) engine: :class:`engine.finetune.loop.Trainer` with its database reporter on a real
    SQLite file, so the per-step cancel-flag read, the metric rows, the token-weighted
    loss and the checkpoint the run ends with are all counted.

The target is (b) / (a) <= 1.1. Rounds alternate between the loops and the fastest round
of each counts. The median of the per-round ratios is printed too, as a check on noise. On the CPU the script pins itself to one CPU with one torch thread, so
other load on the machine disturbs it less. Without ``--model`` it builds the tiny random
LLaVA of tests/tinymodels.py; images are axial slices of the Colin27 T1 template (Debian
mricron-data). With bf16 or fp16 both loops run under the same autocast.

    python benchmarks/bench_finetune.py [--steps 30] [--rounds 3] [--json out.json]
    python benchmarks/bench_finetune.py --model DIR --device cuda --precision bf16
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from tinymodels import TinyModels, mri_slice  # noqa: E402

QUESTIONS = ("Which sequence is this?", "Is there an abnormality?", "Where is the lesion?")
ANSWERS = ("The answer is B.", "A", "The lesion is in the left frontal lobe.")


def write_samples(folder: Path, count: int) -> Path:
    lines = []
    for index in range(count):
        name = f"slice_{index:03d}.png"
        mri_slice(40 + index % 100).save(folder / name)
        messages = [{"role": "user", "content": f"<image>\n{QUESTIONS[index % 3]}"},
                    {"role": "assistant", "content": ANSWERS[index % 3]}]
        lines.append(json.dumps({"messages": messages, "images": [name]}))
    path = folder / "train.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def build(model_path: Path, config):
    """Return (PeftModel, collator) with the seed applied before the LoRA initialisation."""
    from engine.finetune.collator import ChatCollator
    from engine.finetune.model_setup import load_base, load_processor, wrap_with_lora
    from engine.finetune.training import seed_everything

    seed_everything(config.seed)
    model, _ = wrap_with_lora(load_base(model_path, config, config.device), config)
    return model, ChatCollator(load_processor(model_path), config.max_length, config.max_image_pixels)


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def plain_loop(model_path: Path, config, samples, steps: int) -> float:
    """Return the seconds per optimizer step of the plain PEFT loop."""
    import torch
    from transformers import get_cosine_schedule_with_warmup

    from engine.finetune.model_setup import torch_dtype
    from engine.finetune.order import DataOrder

    model, collator = build(model_path, config)
    device_type = config.device.split(":")[0]
    dtype = torch_dtype(config.precision)
    order = DataOrder(len(samples), config.batch_size, config.gradient_accumulation, config.epochs, config.seed)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=config.learning_rate)
    scheduler = get_cosine_schedule_with_warmup(optimizer, 0, order.total_steps)
    model.train()
    started = time.perf_counter()
    for step in range(steps):
        micro_batches = order.step_micro_batches(step)
        for indices in micro_batches:
            batch = collator([samples[i] for i in indices])
            inputs = {key: value.to(config.device, dtype if value.is_floating_point() else None)
                      for key, value in batch.inputs.items()}
            with torch.autocast(device_type, dtype=dtype, enabled=config.precision != "fp32"):
                loss = model(**inputs, labels=batch.labels.to(config.device)).loss / len(micro_batches)
            loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
    synchronize(config.device)
    return (time.perf_counter() - started) / steps


def engine_loop(model_path: Path, config, samples, steps: int, folder: Path) -> tuple[float, float]:
    """Return (seconds per optimizer step, seconds of one checkpoint) of the engine's Trainer.

    The run ends with a checkpoint, as every run does. Its time is measured again after the
    loop and taken out of the per-step figure, because a run pays it once at the end and
    once per ``save_steps`` steps, not every step.
    """
    from db.models import Model, TrainingRun
    from db.session import open_database
    from engine.finetune.loop import Trainer
    from engine.finetune.reporting import DatabaseReporter

    db = open_database(f"sqlite:///{folder / 'bench.sqlite'}")
    with db.session(write=True) as session:
        model_row = Model(name=f"bench-{time.monotonic_ns()}", backend="transformers", path=str(model_path))
        session.add(model_row)
        session.flush()
        run = TrainingRun(name=model_row.name, base_model_id=model_row.id, config=config.to_dict(),
                          status="running", output_dir=str(folder / model_row.name))
        session.add(run)
        session.flush()
        run_id = run.id
    model, collator = build(model_path, config)
    trainer = Trainer(model, collator, samples, [], config, config.device, folder / f"run-{run_id}",
                      DatabaseReporter(db, run_id))
    trainer.total_steps = steps  # stop after ``steps``; the last step saves a checkpoint
    started = time.perf_counter()
    trainer.train()
    synchronize(config.device)
    elapsed = time.perf_counter() - started
    started = time.perf_counter()
    trainer.save(steps, None)
    checkpoint = time.perf_counter() - started
    db.dispose()
    return (elapsed - checkpoint) / steps, checkpoint


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30, help="optimizer steps per round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per loop (fastest counts)")
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--model", type=Path, help="a transformers VLM folder (default: the tiny LLaVA)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "fp16"])
    parser.add_argument("--max-image-pixels", type=int, default=768 * 768)
    parser.add_argument("--json", type=Path, help="also write the results as JSON")
    args = parser.parse_args()

    import torch

    if args.device == "cpu":
        if hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
        torch.set_num_threads(1)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    # peft 0.21 calls a transformers 5 method that warns about its own deprecation.
    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)

    from engine.finetune.config import DatasetSpec, FineTuneConfig
    from engine.finetune.data import read_jsonl

    with tempfile.TemporaryDirectory(prefix="bench-finetune-") as temp:
        folder = Path(temp)
        model_path = args.model or TinyModels(folder / "models").llava()
        data = write_samples(folder, args.samples)
        samples = read_jsonl(data)
        config = FineTuneConfig(run_name="bench", base_model="bench", datasets=(DatasetSpec("jsonl", str(data)),),
                                precision=args.precision, device=args.device, batch_size=2,
                                gradient_accumulation=2, warmup_ratio=0.0, epochs=100.0, val_split=0.0,
                                save_steps=10 ** 6, max_length=2048, max_image_pixels=args.max_image_pixels)
        plain, engine, checkpoints = [], [], []
        for round_index in range(args.rounds):
            plain.append(plain_loop(model_path, config, samples, args.steps))
            per_step, checkpoint = engine_loop(model_path, config, samples, args.steps, folder)
            engine.append(per_step)
            checkpoints.append(checkpoint)
            print(f"round {round_index + 1}: plain {plain[-1] * 1000:.1f} ms/step, "
                  f"engine {engine[-1] * 1000:.1f} ms/step, checkpoint {checkpoint * 1000:.0f} ms", flush=True)

    best_plain, best_engine = min(plain), min(engine)
    threads = 1 if args.device == "cpu" else torch.get_num_threads()
    result = {"python": platform.python_version(), "torch": torch.__version__, "threads": threads,
              "device": args.device, "precision": args.precision,
              "model": str(args.model or "tiny LLaVA (tests/tinymodels.py)"), "steps": args.steps,
              "rounds": args.rounds, "batch_size": 2, "gradient_accumulation": 2,
              "plain_ms_per_step": round(best_plain * 1000, 2),
              "engine_ms_per_step": round(best_engine * 1000, 2),
              "ratio": round(best_engine / best_plain, 3),
              "median_round_ratio": round(statistics.median(e / p for e, p in zip(engine, plain)), 3),
              "checkpoint_ms": round(min(checkpoints) * 1000, 1)}
    print(f"python {result['python']}, torch {result['torch']}, {args.device} {args.precision}, {threads} thread(s), "
          f"{args.steps} steps x {args.rounds} rounds, batch 2 x accumulation 2, fastest round")
    print(f"plain PEFT loop:   {result['plain_ms_per_step']:8.1f} ms/step")
    print(f"engine Trainer:    {result['engine_ms_per_step']:8.1f} ms/step "
          f"(plus {result['checkpoint_ms']:.0f} ms per checkpoint)")
    print(f"ratio engine/plain {result['ratio']:.3f} (target <= 1.1); median of the per-round "
          f"ratios {result['median_round_ratio']:.3f}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
