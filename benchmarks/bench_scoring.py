"""Time the scoring of one prediction per closed question (3,190 for MM-NeuroOnco v1.0).

Measures, separately:
- in process: read the benchmark and prediction files, parse every output, compute all
  metrics with 1,000 bootstrap resamples and the JSON summary (what ``bench score`` does);
- end to end: ``python -m engine.cli.main bench score --json`` in a fresh interpreter,
  which adds interpreter start-up and imports.

The outputs mix the forms models write (a bare letter, "Answer: X", option text, prose with
one letter, refusals), so every parser rule runs. Target: scoring under 1 s.

Usage: python benchmarks/bench_scoring.py [--benchmark-file CLOSED.json] [--repeats N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from engine.bench.questions import load_closed_benchmark  # noqa: E402
from engine.bench.score import (contract_summary, load_predictions, score_predictions,  # noqa: E402
                                summarise)

DEFAULT_BENCHMARK = (REPO_ROOT.parent / "shared" / "data" / "mm-neuroonco"
                     / "mm-neuroonco_benchmark_closed_v1.0.json")


def output_for(number: int, letters: tuple[str, ...], options: dict[str, str]) -> str:
    letter = letters[number % len(letters)]
    forms = [
        letter,
        f"Answer: {letter}",
        f"{letter}. {options[letter]}",
        options[letter],
        f"Looking at the enhancement pattern, I think {letter} fits best.",
        "I'm sorry, but I cannot determine this from a single slice.",
        f"<think>Between the options, {letters[0]} or {letter}?</think>\nThe answer is {letter}.",
    ]
    return forms[number % len(forms)]


def write_predictions(benchmark: Path, folder: Path) -> Path:
    questions = load_closed_benchmark(benchmark)
    path = folder / "predictions.jsonl"
    with path.open("w", encoding="utf-8") as stream:
        for number, question in enumerate(questions):
            line = {"id": question.item_id, "q_index": question.q_index,
                    "output": output_for(number, question.letters, question.options)}
            stream.write(json.dumps(line) + "\n")
    return path


def score_in_process(benchmark: Path, predictions: Path) -> dict:
    questions = load_closed_benchmark(benchmark)
    loaded, _ = load_predictions(predictions)
    return contract_summary(summarise(score_predictions(questions, loaded)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--benchmark-file", type=Path, default=DEFAULT_BENCHMARK)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        predictions = write_predictions(args.benchmark_file, Path(folder))

        in_process = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            summary = score_in_process(args.benchmark_file, predictions)
            in_process.append(time.perf_counter() - start)

        end_to_end = []
        command = [sys.executable, "-m", "engine.cli.main", "bench", "score", "--benchmark-file",
                   str(args.benchmark_file), "--predictions", str(predictions), "--json"]
        for _ in range(args.repeats):
            start = time.perf_counter()
            result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True,
                                    check=True)
            end_to_end.append(time.perf_counter() - start)
        assert json.loads(result.stdout) == summary

    print(f"questions scored: {summary['total']} (unparsed {summary['unparsed']}, "
          f"accuracy {summary['accuracy']:.3f})")
    print(f"in process, median of {args.repeats}: {statistics.median(in_process):.3f} s "
          f"(min {min(in_process):.3f}, max {max(in_process):.3f})")
    print(f"end to end (fresh interpreter), median of {args.repeats}: "
          f"{statistics.median(end_to_end):.3f} s (min {min(end_to_end):.3f}, "
          f"max {max(end_to_end):.3f})")


if __name__ == "__main__":
    main()
