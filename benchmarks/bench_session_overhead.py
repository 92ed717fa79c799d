"""Time the per-question overhead of a benchmark session beyond the answerer's own time.

Imports the released closed file (3,190 questions) into a fresh SQLite database, then runs
``baseline:random`` sessions over all questions and measures, per session:

- total: ``create_run`` plus ``run_session`` (plan, answer rows, one write transaction per
  image, progress), wall-clock;
- answerer: the time spent inside ``answer_image`` (the part a model would replace);
- overhead per question: (total - answerer) / questions.

Sessions run in process with no progress sink, and as a ``bench.run`` job run in this
process, whose progress writes the job row. Target: overhead under 5 ms per question.

Usage: python benchmarks/bench_session_overhead.py [--benchmark-file CLOSED.json] [--repeats N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from db.session import open_database  # noqa: E402
from engine.bench.importer import import_benchmark  # noqa: E402
from engine.bench.runs import RunSpec, build_answerer, create_run  # noqa: E402
from engine.bench.session import run_session  # noqa: E402
from engine.jobs import queue  # noqa: E402
from engine.jobs.worker import JobProgress  # noqa: E402

DEFAULT_BENCHMARK = (REPO_ROOT.parent / "shared" / "data" / "mm-neuroonco"
                     / "mm-neuroonco_benchmark_closed_v1.0.json")


class TimedAnswerer:
    """Wraps an answerer and sums the seconds spent in its ``answer_image``."""

    def __init__(self, inner) -> None:  # noqa: ANN001 - any answerer
        self.inner = inner
        self.needs_image = inner.needs_image
        self.seconds = 0.0

    def describe(self) -> dict:
        return self.inner.describe()

    def answer_image(self, image, questions):  # noqa: ANN001
        start = time.perf_counter()
        try:
            return self.inner.answer_image(image, questions)
        finally:
            self.seconds += time.perf_counter() - start

    def close(self) -> None:
        self.inner.close()


def one_session(db, seed: int, as_job: bool) -> tuple[float, float, int]:  # noqa: ANN001
    """Return total seconds, answerer seconds and the number of questions of one session."""
    from db.models import Run

    start = time.perf_counter()
    run_id = create_run(db, RunSpec(benchmark="mm", model="baseline:random", seed=seed))
    with db.session() as session:
        run = session.get(Run, run_id)
        session.expunge(run)
    answerer = TimedAnswerer(build_answerer(db, run))
    progress = None
    if as_job:
        job_id = queue.submit(db, "bench.run", {"run_id": run_id})
        queue.claim_next(db, "benchmark")
        progress = JobProgress(db, job_id)
    counts = run_session(db, run_id, progress, answerer=answerer)
    total = time.perf_counter() - start
    return total, answerer.seconds, counts["questions"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--benchmark-file", type=Path, default=DEFAULT_BENCHMARK)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        db = open_database(f"sqlite:///{Path(folder) / 'bench.sqlite'}")
        import_benchmark(db, args.benchmark_file, name="mm")
        for as_job in (False, True):
            overheads, totals, answering = [], [], []
            for repeat in range(args.repeats):
                total, answerer, questions = one_session(db, seed=repeat, as_job=as_job)
                totals.append(total)
                answering.append(answerer)
                overheads.append((total - answerer) / questions * 1000)
            label = "as a job (progress written to the job row)" if as_job else "in process"
            print(f"{label}: {questions} questions, {args.repeats} sessions")
            print(f"  session wall time, median: {statistics.median(totals):.2f} s "
                  f"(answerer {statistics.median(answering) * 1000:.0f} ms)")
            print(f"  overhead per question: median {statistics.median(overheads):.3f} ms, "
                  f"min {min(overheads):.3f}, max {max(overheads):.3f} (target < 5 ms)")
        db.dispose()


if __name__ == "__main__":
    main()
