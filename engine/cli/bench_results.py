"""``neuroonco bench metrics|report|compare``: results of runs, recomputed from their answers."""

from __future__ import annotations

import argparse
from typing import Any

from engine.bench.compare import compare_runs, write_comparison_csv
from engine.bench.run_metrics import run_metrics_by_name
from engine.bench.run_report import write_run_report
from engine.cli.common import database, output_file, print_json
from engine.errors import InvalidInputError

RUN_HELP = "run name or id, as listed by 'neuroonco bench runs'"

# Key, heading and width of the columns printed on the terminal; the CSV and JSON have
# every column. The run column is as wide as the longest run name.
_TERMINAL_COLUMNS = (
    ("run", "run", 0), ("accuracy", "accuracy", 9), ("trap_accuracy", "trap", 7),
    ("non_trap_accuracy", "non-trap", 9), ("false_rejection_rate", "false-rej", 10),
    ("unparsed_rate", "unparsed", 9), ("open_keyword_recall_substring", "open-kw", 8),
    ("review_agreement", "review", 7),
)


def register(actions) -> None:  # noqa: ANN001 - argparse subparsers
    metrics = actions.add_parser("metrics", help="print a run's metrics")
    metrics.add_argument("run", metavar="RUN", help=RUN_HELP)
    metrics.add_argument("--json", action="store_true", help="print all metrics as JSON")
    metrics.set_defaults(handler=_metrics)

    report = actions.add_parser("report", help="write a run's report as HTML, CSV or JSON")
    report.add_argument("run", metavar="RUN", help=RUN_HELP)
    report.add_argument("--html", type=output_file, metavar="FILE",
                        help="self-contained HTML report with charts and the configuration")
    report.add_argument("--csv", type=output_file, metavar="FILE", help="all metrics as CSV rows")
    report.add_argument("--json", type=output_file, metavar="FILE",
                        help="all metrics with the configuration as JSON")
    report.set_defaults(handler=_report)

    compare = actions.add_parser("compare", help="compare runs in a table of runs x metrics")
    compare.add_argument("runs", nargs="+", metavar="RUN",
                         help="runs to compare, each a name or id as listed by 'neuroonco bench "
                              "runs'")
    compare.add_argument("--csv", type=output_file, metavar="FILE",
                         help="also write the table as CSV")
    compare.add_argument("--json", action="store_true", help="print the table as JSON")
    compare.set_defaults(handler=_compare)


def _metrics(args: argparse.Namespace) -> int:
    metrics = run_metrics_by_name(database(args), args.run)
    if args.json:
        print_json(metrics)
    else:
        print_metrics(metrics)
    return 0


def _report(args: argparse.Namespace) -> int:
    if not (args.html or args.csv or args.json):
        raise InvalidInputError("bench report writes nothing without --html FILE, --csv FILE "
                                "or --json FILE; pass at least one")
    metrics = run_metrics_by_name(database(args), args.run)
    write_run_report(metrics, html=args.html, csv=args.csv, json=args.json)
    for path in (args.html, args.csv, args.json):
        if path is not None:
            print(f"wrote {path}")
    return 0


def _compare(args: argparse.Namespace) -> int:
    rows = compare_runs(database(args), args.runs)
    if args.csv:
        write_comparison_csv(args.csv, rows)
    if args.json:
        print_json(rows)
        return 0
    print_comparison(rows)
    if args.csv:
        print(f"wrote {args.csv}")
    return 0


def print_comparison(rows: list[dict[str, Any]]) -> None:
    """Print comparison rows as a table of the main metrics, in percent."""
    name_width = max(len("run"), *(len(row["run"]) for row in rows))
    print(" ".join(f"{heading:<{name_width}}" if key == "run" else f"{heading:>{width}}"
                   for key, heading, width in _TERMINAL_COLUMNS))
    for row in rows:
        cells = []
        for key, _, width in _TERMINAL_COLUMNS:
            if key == "run":
                cells.append(f"{row[key]:<{name_width}}")
            else:
                cells.append(f"{_percent(row[key]):>{width}}")
        print(" ".join(cells))


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _share(stat: dict[str, Any], count_key: str = "correct", value_key: str = "accuracy") -> str:
    value = stat[value_key]
    shown = "-" if value is None else f"{100 * value:5.1f}%"
    interval = stat.get("ci95")
    bounds = f" [{100 * interval[0]:.1f}, {100 * interval[1]:.1f}]" if interval else ""
    return f"{shown}{bounds}  ({stat[count_key]} of {stat['total']})"


def print_metrics(metrics: dict[str, Any]) -> None:
    """Print a run's main metrics, each with its 95% interval."""
    run, closed = metrics["run"], metrics["closed"]
    adapter = f" + {run['adapter']}" if run["adapter"] else ""
    print(f"run               {run['name']} ({run['model']}{adapter}, {run['setting']}, "
          f"{run['mode']}, seed {run['seed']}, {run['status']})")
    print(f"accuracy          {_share(closed['overall'])}")
    print(f"trap              {_share(closed['trap'])}")
    print(f"non-trap          {_share(closed['non_trap'])}")
    print(f"false rejection   {_share(closed['false_rejection'], 'count', 'rate')}")
    print(f"unparsed          {_share(closed['unparsed_rate'], 'count', 'rate')}")
    abstained = metrics.get("abstained")
    if abstained and abstained["count"]:
        print(f"  abstained       {abstained['count']} ({_percent(abstained['rate'])}) by the "
              "baseline, counted as unparsed")
    outcomes = closed["outcomes"]
    print(f"skipped           {outcomes['skipped']}, missing {outcomes['missing']}")
    for name, group in closed["by_type"].items():
        print(f"  {name:<15} {_share(group)}")
    opened = metrics["open"]
    if opened is not None:
        print(f"open questions    {opened['total']} (missing or skipped {opened['missing']})")
        for key, label in (("keyword_recall_substring", "keyword recall (substring)"),
                           ("keyword_recall_word", "keyword recall (whole word)"),
                           ("rouge_l", "ROUGE-L F")):
            print(f"  {label:<28} {_percent(opened[key]['mean'])}")
        bleu = opened["bleu"]["score"]
        print(f"  {'BLEU':<28} {'-' if bleu is None else f'{bleu:.2f}'}")
    for model, judged in metrics["judge"].items():
        print(f"judge {model}: mean {_percent(judged['mean'])} over {judged['scored']} scored "
              f"of {judged['judged']} judged answers")
    review = metrics["review"]
    print(f"review            {review['reviewed']} reviewed answers, agreement "
          f"{_percent(review['agreement']) if review['reviewed'] else '-'}")
