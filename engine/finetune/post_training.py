"""The optional benchmark after training: the adapter and its base model on one benchmark.

:func:`benchmark_plan` is plain data (the two session settings, identical except for the
adapter) and is what the dialog and the CLI show. :func:`run_post_training_benchmark` runs
both sessions and returns their comparison rows.

LEAD: wire ``run_post_training_benchmark`` once the benchmark-session code
(``engine.bench.runs``, ``engine.bench.session``, ``engine.bench.compare``) is merged. It is
written against the API of that branch as it stood (``RunSpec``, ``create_run``,
``run_session``, ``compare_runs``) and has not run here, because those modules are not on
this branch; until then it raises WorkbenchError saying so.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from db.session import Database
from engine.errors import WorkbenchError
from engine.finetune.runs import get_run
from engine.progress import Progress


@dataclass(frozen=True)
class SessionSettings:
    """One benchmark session to create: model, optional adapter and the shared settings."""

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


def run_post_training_benchmark(db: Database, run_ref: int | str, adapter: str, benchmark: str, *,
                                setting: str = "rejection-aware", mode: str = "generate",
                                seed: int = 0, limit: int | None = None,
                                progress: Progress | None = None) -> list[dict[str, Any]]:
    """Run the base and adapter sessions of :func:`benchmark_plan`; return the comparison rows."""
    try:
        from engine.bench.compare import compare_runs
        from engine.bench.runs import RunSpec, create_run
        from engine.bench.session import run_session
    except ImportError:
        raise WorkbenchError("benchmark sessions are not available in this build; run "
                             "'neuroonco bench run' with the adapter once they are") from None

    names = []
    for settings in benchmark_plan(db, run_ref, adapter, benchmark, setting=setting, mode=mode,
                                   seed=seed, limit=limit):
        spec = RunSpec(**asdict(settings))
        session_id = create_run(db, spec)
        run_session(db, session_id, progress)
        names.append(settings.name)
    return compare_runs(db, names)
