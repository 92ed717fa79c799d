"""``neuroonco finetune start|preview|list|show|cancel|resume|merge|register|benchmark``."""

from __future__ import annotations

import argparse
import json
import sys

from engine.cli.bench_runs import add_session_settings
from engine.cli.common import database, print_json, terminal_progress
from engine.errors import InvalidInputError

METRICS_TAIL = 10


def register(subparsers) -> None:  # noqa: ANN001 - argparse subparsers action
    from engine.finetune.command import add_config_arguments

    parser = subparsers.add_parser("finetune", help="LoRA fine-tuning runs: start, follow, "
                                                    "cancel, resume, merge, register")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True

    start = actions.add_parser("start", help="start a training run in a background process",
                               description="Start a LoRA / QLoRA run. Defaults are the published "
                                           "recipe: LoRA on q_proj,v_proj, learning rate 1e-4, "
                                           "cosine schedule, 5 percent warm-up, one epoch, bf16.")
    add_config_arguments(start)
    start.add_argument("--dry-run", action="store_true",
                       help="validate and print the settings, the estimate and the command; start nothing")
    start.add_argument("--foreground", action="store_true",
                       help="train in this process instead of a detached one")
    start.add_argument("--json", action="store_true", help="print JSON")
    start.set_defaults(handler=_start)

    preview = actions.add_parser("preview", help="print the first training batch as the model sees it")
    add_config_arguments(preview)
    preview.set_defaults(handler=_preview)

    listing = actions.add_parser("list", help="list training runs (marks runs whose process died)")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=_list)

    show = actions.add_parser("show", help="status, last metrics and checkpoints of a run")
    show.add_argument("run", help="run name or id")
    show.add_argument("--metrics", type=int, default=METRICS_TAIL, metavar="N",
                      help=f"metric rows to print (default {METRICS_TAIL})")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(handler=_show)

    cancel = actions.add_parser("cancel", help="stop a run after saving a checkpoint")
    cancel.add_argument("run", help="run name or id")
    cancel.set_defaults(handler=_cancel)

    resume = actions.add_parser("resume", help="continue a cancelled or failed run from its latest checkpoint")
    resume.add_argument("run", help="run name or id")
    resume.add_argument("--foreground", action="store_true", help="train in this process")
    resume.set_defaults(handler=_resume)

    merge = actions.add_parser("merge", help="merge a checkpoint into the base model and save it")
    merge.add_argument("run", help="run name or id")
    merge.add_argument("--checkpoint", type=int, metavar="STEP", help="checkpoint step (default: the latest)")
    merge.add_argument("--out", required=True, metavar="DIR", help="new folder for the merged model")
    merge.add_argument("--gguf", action="store_true",
                       help="also convert the merged model to GGUF with llama.cpp's converter")
    merge.add_argument("--register", metavar="NAME", help="register the merged model under NAME")
    merge.add_argument("--gguf-pre-tokenizer", metavar="NAME", help=argparse.SUPPRESS)
    merge.set_defaults(handler=_merge)

    adapter = actions.add_parser("register", help="register a checkpoint as an adapter of the base model")
    adapter.add_argument("run", help="run name or id")
    adapter.add_argument("--checkpoint", type=int, metavar="STEP", help="checkpoint step (default: the latest)")
    adapter.add_argument("--name", required=True, help="adapter name")
    adapter.set_defaults(handler=_register)

    bench = actions.add_parser(
        "benchmark", help="benchmark a registered adapter against its base model",
        description="Create two benchmark sessions that differ only in the adapter (RUN-base "
                    "and RUN-ADAPTER), answer both here and print their comparison.")
    bench.add_argument("run", help="training run name or id")
    bench.add_argument("--adapter", required=True, metavar="NAME",
                       help="registered adapter of the run's base model")
    bench.add_argument("--benchmark", required=True, metavar="NAME", help="imported benchmark")
    add_session_settings(bench)
    bench.add_argument("--seed", type=int, default=0, metavar="N", help="generation seed (default 0)")
    bench.add_argument("--json", action="store_true", help="print the comparison rows as JSON")
    bench.set_defaults(handler=_benchmark)


# --------------------------------------------------------------------------- start


def _start(args: argparse.Namespace) -> int:
    from engine.finetune.command import config_from_args
    from engine.finetune.validation import detect_environment

    config = config_from_args(args)
    environment = detect_environment()
    if args.dry_run:
        return _dry_run(args, config, environment)

    from engine.finetune import runs

    run = runs.create_run(database(args), config, environment)
    return _launch(args, run, "started")


def _launch(args: argparse.Namespace, run, verb: str) -> int:  # noqa: ANN001 - a RunInfo
    from engine.finetune import runs

    if args.foreground:
        from engine.finetune.training import run_training

        run_training(database(args), run.id)
        final = runs.get_run(database(args), run.id)
        print(f"run {final.name} {final.status}: {final.message}")
        return 0 if final.status != runs.FAILED else 1

    from engine.finetune.process import start_run_process

    pid = start_run_process(database(args), run)
    if getattr(args, "json", False):
        print_json({"id": run.id, "name": run.name, "pid": pid, "log": str(run.log_path)})
    else:
        print(f"{verb} run {run.name} (id {run.id}, pid {pid}); log: {run.log_path}")
        print(f"follow it with 'neuroonco finetune show {run.name}'; stop it with "
              f"'neuroonco finetune cancel {run.name}'")
    return 0


def _dry_run(args: argparse.Namespace, config, environment) -> int:  # noqa: ANN001
    from engine.finetune.planning import plan_run

    plan = plan_run(database(args), config, environment)
    if args.json:
        print_json({"ok": plan.ok, "config": config.to_dict(),
                    "issues": [vars(issue) for issue in plan.issues], "problems": list(plan.problems),
                    "train_samples": plan.train_samples, "val_samples": plan.val_samples,
                    "mean_tokens": plan.mean_tokens,
                    "estimate": vars(plan.estimate) if plan.estimate else None,
                    "command": plan.command})
        return 0 if plan.ok else 1
    print(json.dumps(config.to_dict(), indent=2))
    for issue in plan.issues:
        print(f"{issue.severity}: {issue.field}: {issue.message}")
    for problem in plan.problems:
        print(f"error: {problem}")
    if plan.estimate is not None:
        print(f"data: {plan.train_samples} training, {plan.val_samples} validation samples, "
              f"mean length {plan.mean_tokens:.0f} tokens" if plan.mean_tokens else
              f"data: {plan.train_samples} training, {plan.val_samples} validation samples")
        print(plan.estimate.summary())
        for note in plan.estimate.notes:
            print(f"  {note}")
    print(f"command: {plan.command}")
    return 0 if plan.ok else 1


def _preview(args: argparse.Namespace) -> int:
    from engine.finetune.command import config_from_args
    from engine.finetune.model_setup import load_processor
    from engine.finetune.preview import preview_first_batch
    from engine.inference.registry import get_model

    config = config_from_args(args)
    if not config.base_model:
        raise InvalidInputError("--base-model is required for a preview")
    record = get_model(database(args), config.base_model)
    preview = preview_first_batch(config, load_processor(record.path), database(args))
    print(preview.render())
    return 0


# --------------------------------------------------------------------------- follow


def _list(args: argparse.Namespace) -> int:
    from engine.finetune import runs
    from engine.finetune.process import recover_dead_runs

    recover_dead_runs(database(args))
    listed = runs.list_runs(database(args))
    if args.json:
        print_json([run.as_dict() for run in listed])
        return 0
    for run in listed:
        progress = f"{run.step}/{run.total_steps}" if run.total_steps else f"{run.step}/?"
        print(f"{run.id:<5} {run.name:<28} {run.status:<10} {progress:<11} "
              f"{run.base_model or '-':<24} {run.message or ''}")
    return 0


def _show(args: argparse.Namespace) -> int:
    from engine.finetune.monitoring import read_snapshot
    from engine.finetune.process import recover_dead_runs

    recover_dead_runs(database(args))
    snapshot = read_snapshot(database(args), args.run)
    run = snapshot.run
    tail = snapshot.metrics[-args.metrics:] if args.metrics > 0 else []
    if args.json:
        print_json({"run": run.as_dict(), "metrics": [vars(point) for point in tail],
                    "checkpoints": [vars(entry) for entry in snapshot.checkpoints],
                    "eta_seconds": snapshot.eta_seconds})
        return 0
    print(f"run {run.name} (id {run.id}): {run.status}, step {run.step}/{run.total_steps or '?'}, "
          f"base {run.base_model or '-'}")
    if run.message:
        print(f"  {run.message}")
    if snapshot.eta_seconds is not None:
        from engine.finetune.estimate import format_duration

        print(f"  about {format_duration(snapshot.eta_seconds)} left")
    print("step   epoch   loss      lr          val_loss  samples/s")
    for point in tail:
        print(f"{point.step:<6} {_number(point.epoch, '.2f'):<7} {_number(point.loss, '.4f'):<9} "
              f"{_number(point.learning_rate, '.3e'):<11} {_number(point.val_loss, '.4f'):<9} "
              f"{_number(point.samples_per_second, '.2f')}")
    print("checkpoints:")
    for entry in snapshot.checkpoints:
        adapters = f"  adapters: {', '.join(entry.adapters)}" if entry.adapters else ""
        print(f"  step {entry.step:<6} val_loss {_number(entry.val_loss, '.4f'):<9} {entry.path}{adapters}")
    return 0


def _number(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _cancel(args: argparse.Namespace) -> int:
    from engine.finetune import runs

    run = runs.request_cancel(database(args), args.run)
    print(f"asked run {run.name} to stop; it saves a checkpoint at its next step")
    return 0


def _resume(args: argparse.Namespace) -> int:
    from engine.finetune import runs
    from engine.finetune.process import wait_for_exit

    wait_for_exit(runs.get_run(database(args), args.run))
    run = runs.prepare_resume(database(args), args.run)
    return _launch(args, run, "resumed")


# --------------------------------------------------------------------------- after training


def _merge(args: argparse.Namespace) -> int:
    from engine.finetune.export import merge_checkpoint

    result = merge_checkpoint(database(args), args.run, args.out, step=args.checkpoint, gguf=args.gguf,
                              register_as=args.register, gguf_pre_tokenizer=args.gguf_pre_tokenizer)
    print(f"merged model saved to {result.folder}")
    for file in result.gguf_files:
        print(f"GGUF: {file}")
    if result.registered_as:
        print(f"registered as transformers model {result.registered_as}")
    return 0


def _register(args: argparse.Namespace) -> int:
    from engine.finetune.export import register_checkpoint
    from engine.finetune.runs import get_run

    run = get_run(database(args), args.run)
    with terminal_progress(args, "hashing adapter") as progress:
        adapter = register_checkpoint(database(args), run.id, args.name, step=args.checkpoint,
                                      progress=progress)
    print(f"registered adapter {adapter.name} of {run.base_model} from {adapter.path} "
          f"(sha256 {adapter.sha256})", file=sys.stdout)
    return 0


def _benchmark(args: argparse.Namespace) -> int:
    from engine.cli.bench_results import print_comparison
    from engine.finetune.post_training import run_post_training_benchmark

    with terminal_progress(args, "answering") as progress:
        rows = run_post_training_benchmark(database(args), args.run, args.adapter, args.benchmark,
                                           setting=args.setting, mode=args.mode, seed=args.seed,
                                           limit=args.limit, progress=progress)
    if args.json:
        print_json(rows)
    else:
        print_comparison(rows)
    return 0
