"""The post-training benchmark: a LoRA adapter trained on the tiny LLaVA against its base model,
on the demo benchmark, from the engine and from ``neuroonco finetune benchmark``."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from app_data import demo_db, demo_template  # noqa: F401
from conftest import run_cli
from db.models import Answer, Run
from engine.demo import DEMO_BENCHMARK
from engine.errors import NotFoundError
from engine.finetune import runs
from engine.finetune.export import register_checkpoint
from engine.finetune.post_training import run_post_training_benchmark
from engine.finetune.training import run_training
from engine.inference.registry import add_model
from finetune_fixtures import fast_config, tiny_models, training_set  # noqa: F401

pytestmark = pytest.mark.slow

ADAPTER = "lora"
# Generate sessions ask the first item's six closed questions and two of its open ones;
# letter-prob sessions, which ask closed questions only, eight closed questions.
LIMIT = 8
# Keys of a run's configuration that differ between any two runs, or name the adapter.
VARYING = ("created_at", "adapter")


@pytest.fixture
def trained(demo_db, tiny_models, training_set, tmp_path):  # noqa: F811
    """The demo database with ``tiny-llava`` registered and adapter ``lora`` trained on it."""
    add_model(demo_db, "tiny-llava", "transformers", path=tiny_models.llava(),
              settings={"generation": {"max_new_tokens": 8}})
    # A high learning rate moves the LoRA weights far enough to change the answers.
    config = fast_config(training_set, "post", tmp_path, epochs=1.0, learning_rate=5e-2,
                         target_modules=("all-linear",), val_split=0.0)
    run = runs.create_run(demo_db, config)
    assert run_training(demo_db, run.id).status == "finished"
    register_checkpoint(demo_db, run.id, ADAPTER)
    return demo_db


def _runs(db) -> list[Run]:
    with db.session() as session:
        found = session.scalars(select(Run).order_by(Run.id)).all()
        session.expunge_all()
        return found


def _without(config: dict) -> dict:
    answerer = dict(config["answerer"], model=dict(config["answerer"]["model"], adapter=None))
    record = dict(config["model_record"])
    record.pop("adapter", None)
    kept = {key: value for key, value in config.items() if key not in VARYING}
    return dict(kept, answerer=answerer, model_record=record)


def _letter_probs(db, run_id: int) -> dict[int, dict]:
    with db.session() as session:
        return dict(session.execute(select(Answer.question_id, Answer.letter_probs)
                                    .where(Answer.run_id == run_id)).all())


def test_adapter_against_base(trained):
    rows = run_post_training_benchmark(trained, "post", ADAPTER, DEMO_BENCHMARK,
                                       mode="letter-prob", limit=LIMIT)

    base, adapted = _runs(trained)
    assert [row["run"] for row in rows] == [base.name, adapted.name] == ["post-base", "post-lora"]
    assert [row["adapter"] for row in rows] == [None, ADAPTER]
    assert all(row["questions"] == row["answered"] == LIMIT for row in rows)
    assert (base.status, adapted.status) == ("finished", "finished")
    assert (base.adapter_name, adapted.adapter_name) == (None, ADAPTER)
    assert adapted.config["answerer"]["model"]["adapter"]["name"] == ADAPTER
    assert len(adapted.config["answerer"]["model"]["adapter"]["sha256"]) == 64
    assert _without(base.config) == _without(adapted.config)

    base_probs, adapted_probs = _letter_probs(trained, base.id), _letter_probs(trained, adapted.id)
    assert base_probs.keys() == adapted_probs.keys()
    difference = max(abs(base_probs[question][letter] - adapted_probs[question][letter])
                     for question in base_probs for letter in base_probs[question])
    assert difference > 1e-4


def test_cli_benchmark_and_unknown_adapter(trained):
    url = trained.url
    result = run_cli(url, "finetune", "benchmark", "post", "--adapter", ADAPTER, "--benchmark",
                     DEMO_BENCHMARK, "--limit", str(LIMIT), "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [row["run"] for row in rows] == ["post-base", "post-lora"]
    assert [row["adapter"] for row in rows] == [None, ADAPTER]
    assert [row["mode"] for row in rows] == ["generate", "generate"]
    assert all(row["questions"] == 6 and row["open_questions"] == 2 for row in rows)

    again = run_cli(url, "finetune", "benchmark", "post", "--adapter", ADAPTER, "--benchmark",
                    DEMO_BENCHMARK, "--limit", "2")
    assert again.returncode == 0, again.stderr
    assert "post-base#2" in again.stdout
    assert "post-lora#2" in again.stdout

    unknown = run_cli(url, "finetune", "benchmark", "post", "--adapter", "ghost", "--benchmark",
                      DEMO_BENCHMARK)
    assert unknown.returncode == 1
    assert unknown.stderr == ("error: model 'tiny-llava' has no adapter 'ghost'; its adapters: "
                              "lora\n")
    usage = run_cli(url, "finetune", "benchmark", "post", "--benchmark", DEMO_BENCHMARK)
    assert usage.returncode == 2
    with trained.session() as session:
        assert session.scalar(select(func.count()).select_from(Run)) == 4
    with pytest.raises(NotFoundError, match="training run"):
        run_post_training_benchmark(trained, "ghost-run", ADAPTER, DEMO_BENCHMARK)
