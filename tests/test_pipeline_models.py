"""The pipeline's model stages on registered tiny models: llama.cpp with a JSON-schema grammar,
transformers (free text, schema ignored) and an OpenAI-compatible llama.cpp server on 127.0.0.1.

The models have random weights, so their replies are noise. With a grammar the noise is
still a reply of the silver-label schema. Without one it is text that must be stored as it
came and marked unparsed.

The silver-label prompts are about 2,300 tokens long in the tiny models' tokenizer. A
grammar-constrained reply of the random model fills the evidence string up to its 400-character
limit, which takes up to about 1,000 tokens. So the llama.cpp models are registered with a
4,608-token context and ``max_new_tokens`` 2048, set in their stored generation settings.
"""

from __future__ import annotations

import json
import shutil

import pytest
from sqlalchemy import select

from conftest import MRICRON_TEMPLATES, run_cli
from db.models import SilverLabel
from db.session import open_database
from engine.errors import Cancelled
from engine.inference.registry import add_model, get_model
from engine.pipeline.model_calls import ModelUnavailableError
from engine.pipeline.runs import get_run, open_run, read_stats
from engine.pipeline.schema import silver_label_schema
from engine.pipeline.stages import run_samples, run_stages
from engine.pipeline.validation import validate_label
from engine.progress import Progress
from inference_fixtures import gguf_pair, start_llama_server, stop_process, tiny_models  # noqa: F401
from pipeline_data import VOLUME_CASES, build_volume_dataset

pytestmark = pytest.mark.slow

CASES = tuple(case for case in VOLUME_CASES
              if case[0] in ("vol-glioma-1", "vol-meningioma-2", "vol-healthy-1"))
CONTEXT = 4608
GRAMMAR_TOKENS = 2048
FREE_TEXT_TOKENS = 12
LOADED_LINE = "llama_model_loader: loaded meta data"


@pytest.fixture(scope="module")
def env(tmp_path_factory, tiny_models, gguf_pair):  # noqa: F811 - fixtures imported above
    if not (MRICRON_TEMPLATES / "ch2.nii.gz").exists():
        pytest.skip("Debian package mricron-data not installed")
    folder = tmp_path_factory.mktemp("pipeline-models")
    url = f"sqlite:///{folder / 'workbench.sqlite'}"
    db = open_database(url)
    build_volume_dataset(db, folder / "masks", MRICRON_TEMPLATES, cases=CASES)
    model, mmproj = gguf_pair
    # One thread: the tests share a few cores with each other, and llama.cpp threads that
    # wait for a busy core spin instead of sleeping.
    gguf_settings = {"n_ctx": CONTEXT, "n_threads": 1,
                     "generation": {"max_new_tokens": GRAMMAR_TOKENS}}
    add_model(db, "tiny-gguf", "llama.cpp", path=model, mmproj_path=mmproj, settings=gguf_settings)
    add_model(db, "tiny-gguf-verbose", "llama.cpp", path=model, mmproj_path=mmproj,
              settings={**gguf_settings, "verbose": True})
    add_model(db, "tiny-llava", "transformers", path=tiny_models.llava(),
              settings={"device": "cpu", "generation": {"max_new_tokens": FREE_TEXT_TOKENS}})
    yield {"db": db, "url": url, "folder": folder, "gguf": gguf_pair}
    db.dispose()


@pytest.fixture(scope="module")
def long_context_server(gguf_pair):  # noqa: F811
    """A llama-cpp-python server on 127.0.0.1 whose context fits the silver-label prompts."""
    process, base_url = start_llama_server(*gguf_pair, n_ctx=CONTEXT, n_threads=1)
    yield base_url
    stop_process(process)


def labels_of(db, run_id: int, stage: str) -> dict[int, SilverLabel]:  # noqa: ANN001
    with db.session() as session:
        rows = session.scalars(select(SilverLabel).where(SilverLabel.pipeline_run_id == run_id,
                                                         SilverLabel.stage == stage)).all()
        session.expunge_all()
    return {row.slice_id: row for row in rows}


def assert_silver_label_reply(raw: str) -> dict:
    """Decode ``raw`` and check it against the silver-label schema; return the object.

    Raw control characters inside strings are accepted: llama-cpp-python's grammar
    converter lets them through, and the pipeline's parser accepts them with a note.
    """
    value = json.loads(raw, strict=False)
    schema = silver_label_schema()
    assert set(value) == set(schema["properties"])
    for key, rule in schema["properties"].items():
        if "enum" in rule:
            assert value[key] in rule["enum"], (key, value[key])
        elif rule["type"] == "boolean":
            assert isinstance(value[key], bool), key
        else:
            assert isinstance(value[key], str), key
            assert len(value[key]) <= rule["maxLength"], key
    return value


def assert_parsed_labels(db, run, stage: str) -> None:  # noqa: ANN001
    """Every sample of ``run`` has an ok label of ``stage`` equal to its validated reply."""
    labels = labels_of(db, run.id, stage)
    assert set(labels) == {sample.slice_id for sample in run_samples(db, run)}
    for label in labels.values():
        assert label.status == "ok", label.notes
        expected_fields, _notes = validate_label(assert_silver_label_reply(label.raw_output))
        assert label.fields == expected_fields


class CancelAfter(Progress):
    """A progress reporter whose user cancels once ``limit`` units are done."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def report(self) -> None:
        if self.done >= self.limit:
            raise Cancelled()


def test_llama_cpp_stage_stores_grammar_replies(env, capfd):
    db = env["db"]
    run = open_run(db, "grammar", "volumes", {"models": {"run_a": "tiny-gguf-verbose"}})
    capfd.readouterr()
    result = run_stages(db, run.name, ["extract-a"])["extract-a"]
    logged = capfd.readouterr().err

    assert result["statuses"] == {"ok": len(CASES)}
    assert_parsed_labels(db, run, "run_a")
    # With verbose set, llama.cpp prints this line each time it loads the text model.
    assert logged.count(LOADED_LINE) == 1

    provenance = read_stats(db, run.id)["extract-a"]["provenance"]
    record = get_model(db, "tiny-gguf-verbose")
    assert provenance["model"] == "tiny-gguf-verbose"
    assert provenance["backend"] == "llama.cpp"
    assert len(record.sha256) == 64
    assert provenance["sha256"] == record.sha256
    assert provenance["file_hashes"] == record.settings["file_hashes"]
    assert provenance["path"] == record.path
    assert provenance["prompt"] == {"id": "silver-run-a", "version": "1"}
    assert provenance["settings"]["max_new_tokens"] == GRAMMAR_TOKENS
    assert provenance["settings"]["temperature"] == 0.0
    assert len(provenance["settings"]["json_schema_sha256"]) == 64
    assert provenance["backend_options"]["n_ctx"] == CONTEXT
    assert "llama_cpp_python" in provenance["versions"]
    assert (provenance["loads"], provenance["requests"]) == (1, len(CASES))
    assert provenance["failed_requests"] == 0


def test_transformers_free_text_is_stored_unparsed(env):
    db = env["db"]
    run = open_run(db, "free-text", "volumes", {"models": {"run_a": "tiny-llava"}})
    result = run_stages(db, run.name, ["extract-a"])["extract-a"]

    assert result["statuses"] == {"unparsed": len(CASES)}
    assert result["air"]["positive"] == 0
    for label in labels_of(db, run.id, "run_a").values():
        assert label.raw_output
        assert label.fields is None  # never a guessed label
        assert label.notes == ["the reply contains no JSON object"]

    provenance = result["provenance"]
    assert provenance["backend"] == "transformers"
    assert provenance["settings"]["max_new_tokens"] == FREE_TEXT_TOKENS
    assert "json_schema_sha256" in provenance["settings"]  # sent, and ignored by transformers
    assert provenance["backend_options"]["device"] == "cpu"
    assert (provenance["loads"], provenance["requests"]) == (1, len(CASES))


def test_openai_server_gives_parsed_labels(env, long_context_server, monkeypatch):
    db = env["db"]
    monkeypatch.setenv("TINY_SERVER_KEY", "unused-by-the-local-server")
    add_model(db, "tiny-server", "openai", base_url=long_context_server, server_model="tiny",
              api_key_env="TINY_SERVER_KEY",
              settings={"json_mode": "json_object", "max_retries": 0,
                        "generation": {"max_new_tokens": GRAMMAR_TOKENS}})
    run = open_run(db, "server", "volumes", {"models": {"run_a": "tiny-server"}})
    result = run_stages(db, run.name, ["extract-a"])["extract-a"]

    assert result["statuses"] == {"ok": len(CASES)}
    assert_parsed_labels(db, run, "run_a")
    provenance = result["provenance"]
    assert provenance["backend"] == "openai"
    assert provenance["base_url"] == long_context_server
    assert provenance["server_model"] == "tiny"
    assert (provenance["loads"], provenance["requests"]) == (1, len(CASES))


def test_unloadable_model_stops_the_stage(env, tmp_path):
    db = env["db"]
    model = tmp_path / "broken.gguf"
    shutil.copyfile(env["gguf"][0], model)
    add_model(db, "tiny-broken", "llama.cpp", path=model, mmproj_path=env["gguf"][1],
              compute_hash=False)
    with model.open("r+b") as handle:
        handle.truncate(4096)  # the header stays readable, the tensors are gone
    run = open_run(db, "broken", "volumes", {"models": {"run_a": "tiny-broken"}})

    with pytest.raises(ModelUnavailableError, match="model 'tiny-broken' .llama.cpp. for run A "
                                                    "could not be loaded"):
        run_stages(db, run.name, ["extract-a"])
    assert labels_of(db, run.id, "run_a") == {}
    assert "extract-a" not in read_stats(db, run.id)


def test_extraction_resumes_after_cancel(env):
    db = env["db"]
    run = open_run(db, "cancel", "volumes", {"models": {"run_a": "tiny-gguf"}})
    with pytest.raises(Cancelled):
        run_stages(db, run.name, ["extract-a"], progress=CancelAfter(2))
    first = labels_of(db, run.id, "run_a")
    assert len(first) == 2
    assert "extract-a" not in read_stats(db, run.id)

    result = run_stages(db, run.name, ["extract-a"])["extract-a"]
    assert result["statuses"] == {"ok": len(CASES)}
    again = labels_of(db, run.id, "run_a")
    for slice_id, label in first.items():
        assert again[slice_id].id == label.id  # committed labels are kept, not redone
        assert again[slice_id].raw_output == label.raw_output
    assert (result["provenance"]["loads"], result["provenance"]["requests"]) == (1, len(CASES) - 2)


def test_cli_runs_a_model_stage(env):
    result = run_cli(env["url"], "pipeline", "run", "--dataset", "volumes", "--name", "cli",
                     "--stages", "description,extract-a", "--model-a", "tiny-gguf", "--json")
    assert result.returncode == 0, result.stderr
    stages = json.loads(result.stdout)["stages"]
    assert stages["extract-a"]["statuses"] == {"ok": len(CASES)}
    assert stages["extract-a"]["provenance"]["model"] == "tiny-gguf"
    run = get_run(env["db"], "cli")
    assert_parsed_labels(env["db"], run, "run_a")


def test_paraphrasing_sends_text_only_requests(env):
    db = env["db"]
    run = open_run(db, "paraphrase", "volumes", {"models": {"paraphrase": "tiny-llava"}})
    result = run_stages(db, run.name, ["generate"])["generate"]

    provenance = result["paraphrase_provenance"]
    assert provenance["model"] == "tiny-llava"
    assert provenance["prompt"] == {"id": "question-paraphrase", "version": "1"}
    assert provenance["requests"] == sum(result["closed_by_type"].values())
    assert provenance["failed_requests"] == 0
    assert provenance["loads"] == 1
    # Random text is no JSON object with a question, so every template stem stays.
    assert result["paraphrased"] == 0
