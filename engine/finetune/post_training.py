"""The optional benchmark after training: the adapter and its base model on one benchmark.

:func:`benchmark_plan` is plain data: the two session settings, identical except for the
adapter. :func:`create_sessions` creates both runs (the window then answers them as
``bench.run`` jobs), and :func:`run_post_training_benchmark` also answers them in this
process and returns their comparison rows (``neuroonco finetune benchmark``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from db.models import Run
from db.session import Database
from engine.errors import WorkbenchError
from engine.finetune.runs import get_run
from engine.progress import Progress


@dataclass(frozen=True)
class SessionSettings:
    """One benchmark session to create: model, optional adapter and the shared settings.

    ``name`` is the run name wanted; a taken name gets a "#2", "#3"... suffix.
    """

    name: str
    benchmark: str
    model: str
    adapter: str | None
    setting: str
    mode: str
    seed: int
    limit: int | None


def benchmark_plan(db: Database, run_ref: int | str, adapter: str, benchmark: str, *,
                   setting: str = "rejection-aware", mode: str = "generate", seed: int = 0,
                   limit: int | None = None) -> tuple[SessionSettings, SessionSettings]:
    """Return the (base, adapter) sessions that compare a registered adapter with its base."""
    run = get_run(db, run_ref)
    if run.base_model is None:
        raise WorkbenchError(f"the base model of training run '{run.name}' is no longer registered")
    shared = dict(benchmark=benchmark, model=run.base_model, setting=setting, mode=mode, seed=seed,
                  limit=limit)
    return (SessionSettings(name=f"{run.name}-base", adapter=None, **shared),
            SessionSettings(name=f"{run.name}-{adapter}", adapter=adapter, **shared))


def create_sessions(db: Database, run_ref: int | str, adapter: str, benchmark: str, *,
                    setting: str = "rejection-aware", mode: str = "generate", seed: int = 0,
                    limit: int | None = None) -> list[int]:
    """Create the (base, adapter) runs of :func:`benchmark_plan`; return their ids.

    Both configurations are checked before the first run is written, so an unknown adapter
    or one the model cannot load leaves no run behind. Raises the errors of
    ``engine.bench.runs.create_run``.
    """
    from engine.bench.model_backends import model_answerer
    from engine.bench.runs import RunSpec, create_run, unique_run_name

    plan = benchmark_plan(db, run_ref, adapter, benchmark, setting=setting, mode=mode, seed=seed,
                          limit=limit)
    for settings in plan:
        model_answerer(db, settings.model, settings.adapter, settings.mode, None,
                       settings.seed).close()

    run_ids = []
    for settings in plan:
        with db.session() as session:
            name = unique_run_name(session, settings.name)
        run_ids.append(create_run(db, RunSpec(**{**asdict(settings), "name": name})))
    return run_ids


def run_post_training_benchmark(db: Database, run_ref: int | str, adapter: str, benchmark: str, *,
                                setting: str = "rejection-aware", mode: str = "generate",
                                seed: int = 0, limit: int | None = None,
                                progress: Progress | None = None) -> list[dict[str, Any]]:
    """Create and answer the base and adapter sessions; return their comparison rows (base
    first), with the columns of ``engine.bench.compare.COLUMNS``."""
    from engine.bench.compare import compare_runs
    from engine.bench.session import run_session

    run_ids = create_sessions(db, run_ref, adapter, benchmark, setting=setting, mode=mode,
                              seed=seed, limit=limit)
    names = []
    for run_id in run_ids:
        run_session(db, run_id, progress)
        with db.session() as session:
            names.append(session.get(Run, run_id).name)
    return compare_runs(db, names)
