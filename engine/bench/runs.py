"""Creating benchmark runs with their full configuration.

A run is one session: benchmark x model (and adapter) x setting x scoring mode x prompt
template x seed. Its row keeps the whole configuration in ``run.config``, so a run stays
reproducible and comparable after models, adapters or templates change or are deleted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import Adapter, BenchmarkItem, Model, Question, Run
from db.session import Database
from engine import __version__
from engine.bench import model_backends
from engine.bench.answer_rows import GENERATE, LETTER_PROB, MODES
from engine.bench.answerer import Answerer
from engine.bench.baseline_answerer import BaselineAnswerer, is_baseline
from engine.bench.catalog import get_benchmark
from engine.bench.open_metrics import CONFIG as OPEN_SCORES_CONFIG
from engine.bench.parser import PARSER_VERSION
from engine.bench.plan import CLOSED, OPEN, Plan, load_plan
from engine.bench.settings import REJECTION_AWARE, SETTINGS
from engine.errors import InvalidInputError, NotFoundError

MAX_NAME_LENGTH = 200

CREATED, RUNNING, FINISHED, CANCELLED, FAILED, IMPORTED = (
    "created", "running", "finished", "cancelled", "failed", "imported")


@dataclass(frozen=True)
class RunSpec:
    """The configuration of a new session.

    ``limit`` keeps the first N questions. ``template`` names the closed-question prompt
    template of a model, None for its default. ``judge`` names a registered model that
    grades open answers.
    """

    benchmark: str
    model: str
    adapter: str | None = None
    setting: str = REJECTION_AWARE
    mode: str = GENERATE
    limit: int | None = None
    template: str | None = None
    seed: int = 0
    name: str | None = None
    judge: str | None = None


def create_run(db: Database, spec: RunSpec, answerer: Answerer | None = None) -> int:
    """Check ``spec``, write the run row with its configuration and return the run id.

    ``answerer`` answers for the registered model ``spec.model`` in place of the model
    backend, and its ``describe()`` is stored as the run's answerer; pass the same answerer
    to every ``run_session`` call of the run.

    Raises InvalidInputError for an invalid combination: a baseline in letter-prob mode, an
    adapter or template with a baseline, an adapter on a model that is not a transformers
    model, a template that does not suit the mode, a judge without open questions, a taken
    name. Raises NotFoundError for an unknown benchmark, model, adapter or template.
    Nothing is written when it raises, and no model is loaded.
    """
    _check_spec(spec)
    with db.session() as session:
        benchmark = get_benchmark(session, spec.benchmark)
        benchmark_id, sources = benchmark.id, list(benchmark.source_files or [])
        model_record, model_id, adapter_id = _model_record(session, spec)
        include_open = spec.mode == GENERATE and _has_open(session, benchmark_id)
        plan = load_plan(session, benchmark_id, spec.setting, include_open, spec.limit)

    judge_model = _check_judge(db, spec.judge, include_open) if spec.judge is not None else None
    if answerer is not None:
        if is_baseline(spec.model):
            raise InvalidInputError(f"'{spec.model}' is a baseline, which answers by itself; "
                                    "pass no answerer")
        described = answerer.describe()
    else:
        own = _answerer(db, spec, benchmark_id, plan)
        try:
            described = own.describe()
        finally:
            own.close()

    config = _config(spec, sources, model_record, described, judge_model, include_open, plan)
    with db.session(write=True) as session:
        name = _run_name(session, spec)
        run = Run(name=name, benchmark_id=benchmark_id, model_id=model_id, adapter_id=adapter_id,
                  model_name=spec.model, adapter_name=spec.adapter, setting=spec.setting,
                  mode=spec.mode, template_id=config["template_id"],
                  template_version=config["template_version"], seed=spec.seed, config=config,
                  status=CREATED)
        session.add(run)
        session.flush()
        return run.id


def _config(spec: RunSpec, sources: list, model_record: dict | None, described: dict,
            judge_model: dict | None, include_open: bool, plan: Plan) -> dict[str, Any]:
    """Return the run's complete configuration, as stored in ``run.config``."""
    return {
        "benchmark": spec.benchmark,
        "benchmark_sources": sources,
        "model": spec.model,
        "adapter": spec.adapter,
        "model_record": model_record,
        "answerer": described,
        "setting": spec.setting,
        "mode": spec.mode,
        "seed": spec.seed,
        "limit": spec.limit,
        "template_id": described.get("template_id", spec.template),
        "template_version": described.get("template_version"),
        "include_open": include_open,
        "questions": {CLOSED: plan.count(CLOSED), OPEN: plan.count(OPEN)},
        "judge": spec.judge,
        "judge_model": judge_model,
        "parser_version": PARSER_VERSION,
        "open_scores": OPEN_SCORES_CONFIG if include_open else None,
        "neuroonco_version": __version__,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def build_answerer(db: Database, run: Run) -> Answerer:
    """Return the answerer of an existing run (a baseline, or the registered model)."""
    config = run.config
    if is_baseline(run.model_name):
        with db.session() as session:
            plan = load_plan(session, run.benchmark_id, run.setting, config["include_open"],
                             config["limit"])
        return BaselineAnswerer(db, run.model_name, run.benchmark_id, plan, run.seed)
    # The recorded template version, so a newer template file does not change the prompts.
    template = config.get("template_id")
    if template is not None and config.get("template_version") is not None:
        template = f"{template}.v{config['template_version']}"
    return model_backends.model_answerer(db, run.model_name, run.adapter_name, run.mode,
                                         template, run.seed)


def unique_run_name(session: Session, base: str) -> str:
    """Return ``base``, or ``base#2``, ``base#3``... whichever no run uses yet."""
    taken = set(session.scalars(
        select(Run.name).where(Run.name.startswith(base, autoescape=True))))
    name, number = base, 1
    while name in taken:
        number += 1
        name = f"{base}#{number}"
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidInputError(f"the run name {name[:60]!r}... is longer than "
                                f"{MAX_NAME_LENGTH} characters; pass a shorter --name")
    return name


def _check_spec(spec: RunSpec) -> None:
    if spec.setting not in SETTINGS:
        raise InvalidInputError(f"unknown setting {spec.setting!r}; use one of "
                                f"{', '.join(SETTINGS)}")
    if spec.mode not in MODES:
        raise InvalidInputError(f"unknown scoring mode {spec.mode!r}; use one of "
                                f"{', '.join(MODES)}")
    if spec.limit is not None and spec.limit < 1:
        raise InvalidInputError(f"--limit {spec.limit} asks for no questions; use 1 or more")
    if spec.name is not None and not 0 < len(spec.name.strip()) <= MAX_NAME_LENGTH:
        raise InvalidInputError(f"run name {spec.name!r} must have 1 to {MAX_NAME_LENGTH} "
                                "characters")
    if not is_baseline(spec.model):
        return
    if spec.mode == LETTER_PROB:
        raise InvalidInputError(f"baselines only generate: '{spec.model}' chooses a letter "
                                "without letter probabilities; use --mode generate")
    if spec.adapter is not None:
        raise InvalidInputError(f"'{spec.model}' is a baseline and takes no adapter; drop "
                                "--adapter")
    if spec.template is not None:
        raise InvalidInputError(f"'{spec.model}' is a baseline and uses no prompt template; "
                                "drop --template")


def _has_open(session: Session, benchmark_id: int) -> bool:
    return session.scalar(
        select(func.count()).select_from(Question)
        .join(BenchmarkItem, Question.item_id == BenchmarkItem.id)
        .where(BenchmarkItem.benchmark_id == benchmark_id, Question.kind == OPEN)) > 0


def _model_record(session: Session, spec: RunSpec) -> tuple[dict | None, int | None, int | None]:
    """Return the registered model's provenance fields and the model and adapter ids."""
    if is_baseline(spec.model):
        return None, None, None
    model = session.scalar(select(Model).where(Model.name == spec.model))
    if model is None:
        raise NotFoundError(f"model '{spec.model}' not found; register it first, or use a "
                            "baseline such as baseline:random")
    record = {key: getattr(model, key) for key in (
        "backend", "path", "mmproj_path", "family", "quantization", "sha256", "revision",
        "base_url", "server_model", "settings")}
    adapter_id = None
    if spec.adapter is not None and model.backend != "transformers":
        raise InvalidInputError(f"model '{spec.model}' uses {model.backend}; adapters load on "
                                "transformers models only, so drop --adapter or merge the "
                                "adapter and register the merged model")
    if spec.adapter is not None:
        adapter = session.scalar(select(Adapter).where(Adapter.model_id == model.id,
                                                       Adapter.name == spec.adapter))
        if adapter is None:
            raise NotFoundError(f"adapter '{spec.adapter}' of model '{spec.model}' not found; "
                                "register the adapter for this model first")
        record["adapter"] = {"name": adapter.name, "path": adapter.path, "sha256": adapter.sha256}
        adapter_id = adapter.id
    return record, model.id, adapter_id


def _check_judge(db: Database, judge: str, include_open: bool) -> dict[str, Any]:
    """Check that ``judge`` can grade this session; return the judge's description."""
    if not include_open:
        raise InvalidInputError("--judge grades open answers, but this session asks no open "
                                "questions (they need --mode generate and a benchmark imported "
                                "with its open file)")
    if is_baseline(judge):
        raise InvalidInputError(f"'{judge}' is a baseline and cannot judge; pass a registered "
                                "model to --judge")
    with db.session() as session:
        if session.scalar(select(Model.id).where(Model.name == judge)) is None:
            raise NotFoundError(f"judge model '{judge}' not found; register it first")
    found = model_backends.model_judge(db, judge)
    try:
        return found.describe()
    finally:
        found.close()


def _answerer(db: Database, spec: RunSpec, benchmark_id: int, plan: Plan) -> Answerer:
    if is_baseline(spec.model):
        return BaselineAnswerer(db, spec.model, benchmark_id, plan, spec.seed)
    return model_backends.model_answerer(db, spec.model, spec.adapter, spec.mode, spec.template,
                                         spec.seed)


def _run_name(session: Session, spec: RunSpec) -> str:
    if spec.name is not None:
        name = spec.name.strip()
        if session.scalar(select(Run.id).where(Run.name == name)) is not None:
            raise InvalidInputError(f"run name '{name}' is already used; choose another --name "
                                    f"or delete that run with 'neuroonco bench delete-run {name}'")
        return name
    model = spec.model if spec.adapter is None else f"{spec.model}+{spec.adapter}"
    base = f"{model}@{spec.benchmark}/{spec.setting}/{spec.mode}/seed{spec.seed}"
    if spec.limit is not None:
        base += f"/limit{spec.limit}"
    return unique_run_name(session, base)

