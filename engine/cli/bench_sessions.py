"""``neuroonco bench score``: score a prediction file against a closed benchmark file."""

from __future__ import annotations

import argparse
import hashlib
import sys
from datetime import datetime, timezone
from pathlib import Path

from engine import __version__
from engine.bench import report
from engine.bench.bootstrap import DEFAULT_RESAMPLES, DEFAULT_SEED
from engine.bench.parser import PARSER_VERSION
from engine.bench.questions import load_closed_benchmark
from engine.bench.score import (FORMATS, contract_summary, load_predictions, score_predictions,
                                summarise)
from engine.bench.settings import REJECTION_AWARE
from engine.cli.common import output_file, print_json


def register(actions) -> None:  # noqa: ANN001 - argparse subparsers action
    score = actions.add_parser(
        "score", help="score a prediction file (JSON Lines) against a closed benchmark file",
        description="Score predictions in the rejection-aware setting (the benchmark as "
                    "released). Questions without a prediction count as wrong.")
    score.add_argument("--benchmark-file", required=True, type=Path, metavar="CLOSED.json",
                       help="closed benchmark JSON (list of items with vqa_pairs)")
    score.add_argument("--predictions", required=True, type=Path, metavar="PRED.jsonl",
                       help='one JSON object a line: {"id", "q_index", "output"} with raw model '
                            'text, or a published preds_*.jsonl line with a "pred" letter')
    score.add_argument("--format", choices=FORMATS, default="auto",
                       help="prediction line format (default: detected from the first line)")
    score.add_argument("--json", action="store_true", help="print the summary as JSON")
    score.add_argument("--html", type=output_file, metavar="FILE", help="also write an HTML report")
    score.add_argument("--csv", type=output_file, metavar="FILE",
                       help="also write all metrics as CSV")
    score.add_argument("--metrics-json", type=output_file, metavar="FILE",
                       help="also write all metrics with the run configuration as JSON")
    score.add_argument("--seed", type=int, default=DEFAULT_SEED,
                       help=f"bootstrap seed for the intervals (default {DEFAULT_SEED})")
    score.add_argument("--resamples", type=int, default=DEFAULT_RESAMPLES,
                       help=f"bootstrap resamples (default {DEFAULT_RESAMPLES})")
    score.set_defaults(handler=_score)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _score(args: argparse.Namespace) -> int:
    questions = load_closed_benchmark(args.benchmark_file)
    predictions, line_format = load_predictions(args.predictions, args.format)
    if not predictions:
        print(f"warning: no predictions were read from '{args.predictions}', so every question "
              "counts as missing; check that it is the right file", file=sys.stderr)
    scored = score_predictions(questions, predictions)
    metrics = summarise(scored, seed=args.seed, resamples=max(args.resamples, 1))
    summary = contract_summary(metrics)

    if args.html or args.csv or args.metrics_json:
        config = {
            "benchmark_file": str(args.benchmark_file),
            "benchmark_sha256": _sha256(args.benchmark_file),
            "predictions_file": str(args.predictions),
            "predictions_sha256": _sha256(args.predictions),
            "prediction_format": line_format,
            "setting": REJECTION_AWARE,
            "parser_version": PARSER_VERSION,
            "neuroonco_version": __version__,
            "scored_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "bootstrap": metrics["bootstrap"],
        }
        if args.html:
            report.write_html(args.html, metrics, config,
                              title=f"Scores of {args.predictions.name}")
        if args.csv:
            report.write_csv(args.csv, metrics)
        if args.metrics_json:
            report.write_json(args.metrics_json, metrics, config)

    if args.json:
        print_json(summary)
    else:
        _print_summary(summary)
    return 0


def _share(group: dict, count_key: str = "correct", value_key: str = "accuracy") -> str:
    value = group[value_key]
    shown = "–" if value is None else f"{100 * value:5.1f}%"
    return f"{shown}  ({group[count_key]} of {group['total']})"


def _print_summary(summary: dict) -> None:
    print(f"accuracy          {_share(summary)}")
    print(f"unparsed          {summary['unparsed']}")
    print(f"missing           {summary['missing']}")
    print(f"trap              {_share(summary['trap'])}")
    print(f"binary            {_share(summary['binary'])}")
    print(f"five-option       {_share(summary['five_option'])}")
    print(f"false rejection   {_share(summary['false_rejection'], 'count', 'rate')}")
    for name, group in summary["by_type"].items():
        print(f"  {name:<15} {_share(group)}")
