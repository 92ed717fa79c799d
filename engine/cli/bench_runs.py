"""``neuroonco bench run|resume|runs|delete-run|import-preds``: benchmark sessions."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from db.models import Benchmark, Run
from engine.bench import run_catalog, runs
from engine.bench.answer_rows import GENERATE, MODES
from engine.bench.baselines import SEMANTICS_ORACLE
from engine.bench.external import import_predictions
from engine.bench.oracle_semantics import semantics_coverage
from engine.bench.run_metrics import run_metrics
from engine.bench.score import FORMATS
from engine.bench.session import run_session
from engine.bench.session_choices import RUN_JOB_KIND, resume_target, run_job_params
from engine.bench.settings import REJECTION_AWARE, SETTINGS
from engine.cli.bench_results import print_metrics
from engine.cli.common import database, print_json, terminal_progress

JOB_KIND = RUN_JOB_KIND
RUN_HELP = "run name or id, as listed by 'neuroonco bench runs'"


def add_session_settings(parser: argparse.ArgumentParser) -> None:
    """Add --setting, --mode and --limit, which every command that starts sessions takes."""
    parser.add_argument("--setting", choices=SETTINGS, default=REJECTION_AWARE,
                        help="rejection-aware (as released, option E present) or standard (E "
                             "removed, trap items left out); default rejection-aware")
    parser.add_argument("--mode", choices=MODES, default=GENERATE,
                        help="generate text and parse the letter, or score the option letters' "
                             "probabilities (models only); default generate")
    parser.add_argument("--limit", type=int, metavar="N",
                        help="answer only the first N questions (by item id, closed before open)")

def register(actions) -> None:  # noqa: ANN001 - argparse subparsers
    run = actions.add_parser(
        "run", help="run a benchmark session: a model or baseline answers every question",
        description="Create a run (benchmark x model x setting x mode x template x seed) and "
                    "answer its questions. Baselines are the models baseline:random, "
                    "baseline:always-e, baseline:majority and baseline:semantics-oracle.")
    run.add_argument("--benchmark", required=True, metavar="NAME", help="imported benchmark")
    run.add_argument("--model", required=True, metavar="NAME",
                     help="registered model or baseline name")
    run.add_argument("--adapter", metavar="NAME", help="LoRA adapter of the model")
    add_session_settings(run)
    run.add_argument("--template", metavar="ID",
                     help="prompt template of closed questions, models only: an id from "
                          "resources/prompts such as closed-reasoning, or ID.vN for version N "
                          "(default: closed-letter)")
    run.add_argument("--seed", type=int, default=0, metavar="N",
                     help="seed of sampling and of baseline:random (default 0)")
    run.add_argument("--name", metavar="RUN", help="run name (default: built from the "
                                                   "configuration)")
    run.add_argument("--judge", metavar="MODEL",
                     help="registered model that grades the open answers")
    run.add_argument("--job", action="store_true",
                     help="queue the session as a background job and print its id")
    run.add_argument("--json", action="store_true", help="print the metrics as JSON")
    run.set_defaults(handler=_run)

    resume = actions.add_parser("resume", help="answer the questions a run has not answered yet")
    resume.add_argument("run", metavar="RUN", help=RUN_HELP)
    resume.add_argument("--job", action="store_true", help="resume as a background job")
    resume.add_argument("--json", action="store_true", help="print the metrics as JSON")
    resume.set_defaults(handler=_resume)

    listing = actions.add_parser("runs", help="list benchmark runs")
    listing.add_argument("--benchmark", metavar="NAME", help="only runs of this benchmark")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=_runs)

    delete = actions.add_parser("delete-run", help="delete a run with its answers")
    delete.add_argument("run", metavar="RUN", help=RUN_HELP)
    delete.set_defaults(handler=_delete_run)

    preds = actions.add_parser(
        "import-preds", help="import a published prediction file as an external run",
        description="Import preds_*.jsonl lines ({id, q_index, pred}) or {id, q_index, "
                    "output} lines as a run scored in the rejection-aware setting.")
    preds.add_argument("--benchmark", required=True, metavar="NAME", help="imported benchmark")
    preds.add_argument("--predictions", required=True, type=Path, metavar="FILE",
                       help="JSON Lines file of predictions, one question a line")
    preds.add_argument("--name", metavar="RUN",
                       help="run name (default: external:<model>@<benchmark>)")
    preds.add_argument("--model", metavar="NAME",
                       help="model name (default: the file's preds_<model> tag)")
    preds.add_argument("--format", choices=FORMATS, default="auto",
                       help="line format (default: detected from the first line)")
    preds.add_argument("--json", action="store_true", help="print the metrics as JSON")
    preds.set_defaults(handler=_import_preds)


def _run(args: argparse.Namespace) -> int:
    db = database(args)
    spec = runs.RunSpec(benchmark=args.benchmark, model=args.model, adapter=args.adapter,
                        setting=args.setting, mode=args.mode, limit=args.limit,
                        template=args.template, seed=args.seed, name=args.name,
                        judge=args.judge)
    run_id = runs.create_run(db, spec)
    if args.model == SEMANTICS_ORACLE:
        _warn_without_semantics(db, run_id)
    if args.job:
        return _submit(args, db, run_id)
    return _answer(args, db, run_id)


def _warn_without_semantics(db, run_id: int) -> None:  # noqa: ANN001 - a Database
    with db.session() as session:
        run = session.get(Run, run_id)
        covered, total = semantics_coverage(session, run.benchmark_id)
        benchmark = session.get(Benchmark, run.benchmark_id).name
    if covered == 0:
        print(f"warning: 0 of {total} items of benchmark '{benchmark}' link to a slice with "
              f"mask semantics, so {SEMANTICS_ORACLE} abstains on every question; set the "
              f"data root with 'neuroonco bench set-data-root {benchmark} DIR' and compute "
              "semantics with 'neuroonco datasets semantics DATASET' first", file=sys.stderr)


def _resume(args: argparse.Namespace) -> int:
    from engine.jobs import queue

    db = database(args)
    run_id, job_id = resume_target(db, args.run)
    if not args.job:
        return _answer(args, db, run_id)
    if job_id is not None:
        queue.resume(db, job_id)
        with db.session() as session:
            name = session.get(Run, run_id).name
        _print_job(args, name, job_id)
        return 0
    return _submit(args, db, run_id)


def _submit(args: argparse.Namespace, db, run_id: int) -> int:  # noqa: ANN001 - a Database
    from engine.jobs import queue

    params = run_job_params(db, run_id)
    job_id = queue.submit(db, JOB_KIND, params)
    run_catalog.attach_job(db, run_id, job_id)
    _print_job(args, params["run"], job_id)
    return 0


def _print_job(args: argparse.Namespace, name: str, job_id: int) -> None:
    if args.json:
        print_json({"run": name, "job_id": job_id})
    else:
        print(f"run '{name}' queued as job {job_id}; run 'neuroonco worker' to process it and "
              "'neuroonco jobs list' to follow it")


def _answer(args: argparse.Namespace, db, run_id: int) -> int:  # noqa: ANN001 - a Database
    with db.session() as session:
        name = session.get(Run, run_id).name
    try:
        with terminal_progress(args, f"answering {name}") as progress:
            counts = run_session(db, run_id, progress)
    except KeyboardInterrupt:
        print(f"interrupted; the answers so far are stored. Continue with 'neuroonco bench "
              f"resume {name}'")
        raise
    metrics = run_metrics(db, run_id)
    if args.json:
        print_json(metrics)
        return 0
    print(f"run '{name}': {counts['answered_now']} questions answered now, "
          f"{counts['skipped_now']} skipped (image missing), {counts['answered_before']} "
          "answered before")
    print_metrics(metrics)
    return 0


def _runs(args: argparse.Namespace) -> int:
    rows = run_catalog.list_runs(database(args), args.benchmark)
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        print("no runs; start one with 'neuroonco bench run --benchmark NAME --model "
              "baseline:random'")
        return 0
    id_width = max(len("id"), *(len(str(row["id"])) for row in rows))
    width = max(len("run"), *(len(row["name"]) for row in rows))
    print(f"{'id':>{id_width}} {'run':<{width}} {'status':<10} {'answers':>13} {'accuracy':>9}")
    for row in rows:
        # A run without answers has no accuracy to show, even though it counts as 0 correct.
        no_accuracy = row["accuracy"] is None or row["answers"] == 0
        accuracy = "-" if no_accuracy else f"{100 * row['accuracy']:.1f}%"
        answers = f"{row['answers']}/{row['questions']}"
        print(f"{row['id']:>{id_width}} {row['name']:<{width}} {row['status']:<10} "
              f"{answers:>13} {accuracy:>9}")
    return 0


def _delete_run(args: argparse.Namespace) -> int:
    counts = run_catalog.delete_run(database(args), args.run)
    print(f"deleted run '{counts['name']}': {counts['answers']} answers, {counts['judgements']} "
          "judgements")
    return 0


def _import_preds(args: argparse.Namespace) -> int:
    db = database(args)
    run_id = import_predictions(db, args.benchmark, args.predictions, name=args.name,
                                model=args.model, line_format=args.format)
    metrics = run_metrics(db, run_id)
    if args.json:
        print_json(metrics)
        return 0
    print(f"imported run '{metrics['run']['name']}' ({metrics['answers']['stored']} "
          "predictions)")
    print_metrics(metrics)
    return 0
