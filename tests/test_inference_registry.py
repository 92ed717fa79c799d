"""The model registry, its command line, the models.hash job and opening registered models."""

from __future__ import annotations

import hashlib
import json

import pytest
from sqlalchemy import select

from conftest import run_cli
from db.models import Model
from engine.errors import InvalidInputError, NotFoundError
from engine.inference import load_template, open_backend
from engine.inference import registry
from engine.inference.model_files import combined_sha256
from inference_fixtures import free_port, gguf_pair, mri_images, tiny_models  # noqa: F401

pytestmark = pytest.mark.slow


def file_sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_transformers_model_is_hashed_and_detected(db, tiny_models):  # noqa: F811
    folder = tiny_models.llava()
    record = registry.add_model(db, "tiny-llava", "transformers", path=folder, licence="test only")

    assert record.family == "llava"
    assert record.quantization == "fp32"
    assert record.sha256 == file_sha256(folder / "model.safetensors")
    assert record.settings["file_hashes"] == {"model.safetensors": record.sha256}
    assert registry.get_model(db, "tiny-llava") == record


def test_gguf_model_hash_covers_text_model_and_mmproj(db, gguf_pair):  # noqa: F811
    model, mmproj = gguf_pair
    record = registry.add_model(db, "tiny-qwen", "llama.cpp", path=model, mmproj_path=mmproj,
                                settings={"n_threads": 2})

    hashes = {model.name: file_sha256(model), "mmproj:" + mmproj.name: file_sha256(mmproj)}
    manifest = "".join(f"{digest}  {name}\n" for name, digest in sorted(hashes.items()))
    assert record.sha256 == hashlib.sha256(manifest.encode()).hexdigest()
    assert record.sha256 == combined_sha256(hashes)
    assert record.family == "qwen2_5_vl"
    assert record.quantization == "F16"
    assert record.mmproj_path == str(mmproj)


def test_openai_model_stores_no_files_and_no_key(db):
    record = registry.add_model(db, "lab-server", "openai", base_url="http://127.0.0.1:9/v1/",
                                server_model="qwen2.5-vl-7b", api_key_env="LAB_KEY")

    assert record.base_url == "http://127.0.0.1:9/v1"
    assert record.path is None
    assert record.sha256 is None
    assert record.api_key_env == "LAB_KEY"


def test_invalid_registrations_fail_without_a_row(db, tiny_models, gguf_pair, tmp_path):  # noqa: F811
    registry.add_model(db, "taken", "transformers", path=tiny_models.llava(), compute_hash=False)
    corrupt = tmp_path / "corrupt.gguf"
    corrupt.write_bytes(b"GGUF" + b"\x00" * 10)
    cases = [
        (dict(name="taken", backend="transformers", path=tiny_models.llava()), "already registered"),
        (dict(name="baseline:random", backend="openai"), "reserved"),
        (dict(name="x", backend="onnx"), "backend 'onnx' is unknown"),
        (dict(name="x", backend="transformers", path=tmp_path), "no config.json"),
        (dict(name="x", backend="transformers", path=tiny_models.llava(), settings={"gpu": 1}),
         "unknown setting(s) gpu"),
        (dict(name="x", backend="llama.cpp", path=gguf_pair[1]), "is a vision projector"),
        (dict(name="x", backend="llama.cpp", path=gguf_pair[0], mmproj_path=tmp_path / "none.gguf"),
         "does not exist"),
        (dict(name="x", backend="llama.cpp", path=corrupt), "damaged or truncated"),
        (dict(name="x", backend="openai", base_url="localhost:8080", server_model="m"), "http://"),
        (dict(name="x", backend="openai", base_url="http://127.0.0.1:1/v1"), "--server-model"),
        (dict(name="x", backend="openai", base_url="http://h/v1", server_model="m", path=tmp_path),
         "no local files"),
    ]
    for arguments, expected in cases:
        with pytest.raises(InvalidInputError) as error:
            registry.add_model(db, **arguments)
        assert expected in str(error.value)
        assert "\n" not in str(error.value)
    assert [record.name for record in registry.list_models(db)] == ["taken"]


def test_adapters_are_registered_for_transformers_only(db, tiny_models, gguf_pair):  # noqa: F811
    registry.add_model(db, "base", "transformers", path=tiny_models.llava(), compute_hash=False)
    registry.add_model(db, "gguf", "llama.cpp", path=gguf_pair[0], compute_hash=False)
    adapter_dir = tiny_models.adapter("llava")

    adapter = registry.add_adapter(db, "base", "lora-1", adapter_dir)
    assert adapter.sha256 == file_sha256(adapter_dir / "adapter_model.safetensors")
    assert registry.get_model(db, "base").adapter("lora-1") == adapter
    with pytest.raises(InvalidInputError, match="already has an adapter"):
        registry.add_adapter(db, "base", "lora-1", adapter_dir)
    with pytest.raises(InvalidInputError, match="transformers models only"):
        registry.add_adapter(db, "gguf", "lora-1", adapter_dir)

    registry.remove_adapter(db, "base", "lora-1")
    assert registry.get_model(db, "base").adapters == ()
    registry.remove_model(db, "base")
    with pytest.raises(NotFoundError, match="not registered"):
        registry.get_model(db, "base")


def test_open_backend_loads_model_and_adapter(db, tiny_models, mri_images):  # noqa: F811
    registry.add_model(db, "tiny-idefics3", "transformers", path=tiny_models.idefics3(),
                       settings={"device": "cpu", "batch_size": 2, "max_pixels": 96 * 96})
    registry.add_adapter(db, "tiny-idefics3", "lora", tiny_models.adapter("idefics3"))
    record = registry.get_model(db, "tiny-idefics3")
    request = load_template("closed-letter").request(image=mri_images["a"], question="Abnormal?",
                                                     options={"A": "Yes", "B": "No"})

    with open_backend("tiny-idefics3", db, adapter="lora") as backend:
        result = backend.letter_probabilities([request])[0]
        options = backend.options()

    assert result.model["name"] == "tiny-idefics3"
    assert result.model["sha256"] == record.sha256
    assert result.model["adapter"]["sha256"] == record.adapter("lora").sha256
    assert options["batch_size"] == 2
    assert options["max_pixels"] == 96 * 96
    with pytest.raises(InvalidInputError, match="unknown setting"):
        open_backend(record, n_gpu_layers=3)


# --------------------------------------------------------------------------- command line


def test_cli_add_list_remove(db_url, tiny_models, gguf_pair):  # noqa: F811
    added = run_cli(db_url, "models", "add", "cli-qwen", "--backend", "llama.cpp", "--path", str(gguf_pair[0]),
                    "--mmproj", str(gguf_pair[1]), "--set", "n_threads=2", "--set", "chat_handler=mtmd",
                    "--json")
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["settings"]["chat_handler"] == "mtmd"

    listed = run_cli(db_url, "models", "list", "--json")
    records = json.loads(listed.stdout)
    assert [r["name"] for r in records] == ["cli-qwen"]
    assert records[0]["settings"]["n_threads"] == 2
    assert records[0]["sha256"] and records[0]["family"] == "qwen2_5_vl"

    duplicate = run_cli(db_url, "models", "add", "cli-qwen", "--backend", "llama.cpp", "--path", str(gguf_pair[0]))
    assert duplicate.returncode == 1
    assert duplicate.stderr.strip().startswith("error: a model named 'cli-qwen' is already registered")
    assert len(duplicate.stderr.strip().splitlines()) == 1

    removed = run_cli(db_url, "models", "remove", "cli-qwen")
    assert removed.returncode == 0
    assert json.loads(run_cli(db_url, "models", "list", "--json").stdout) == []
    missing = run_cli(db_url, "models", "remove", "cli-qwen")
    assert missing.returncode == 1
    assert "not registered" in missing.stderr


def test_cli_ask_answers_with_letter_probabilities(db_url, gguf_pair, tmp_path, mri_images):  # noqa: F811
    image = tmp_path / "slice.png"
    mri_images["a"].save(image)
    run_cli(db_url, "models", "add", "ask-qwen", "--backend", "llama.cpp", "--path", str(gguf_pair[0]),
            "--mmproj", str(gguf_pair[1]), "--set", "n_threads=2", "--no-hash")

    asked = run_cli(db_url, "models", "ask", "ask-qwen", "--image", str(image), "--question", "Abnormal?",
                    "--option", "A=Yes", "--option", "B=No", "--mode", "letters")

    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    assert set(answer["letter_probs"]) == {"A", "B"}
    assert answer["provenance"]["template"] == {"id": "closed-letter", "version": "1"}
    assert answer["provenance"]["model"]["name"] == "ask-qwen"


def test_hash_job_runs_in_a_worker(db_url, db, tiny_models):  # noqa: F811
    added = run_cli(db_url, "models", "add", "later", "--backend", "transformers", "--path",
                    str(tiny_models.llava()), "--hash-in-background")
    assert added.returncode == 0, added.stderr
    assert "queued job" in added.stderr
    assert registry.get_model(db, "later").sha256 is None

    worker = run_cli(db_url, "worker", "--once", "--idle-exit", "5")
    assert worker.returncode == 0, worker.stdout + worker.stderr

    jobs = json.loads(run_cli(db_url, "jobs", "list", "--json").stdout)
    assert [(job["kind"], job["state"]) for job in jobs] == [("models.hash", "succeeded")]
    assert jobs[0]["progress"][0] == jobs[0]["progress"][1] >= 1
    assert registry.get_model(db, "later").sha256 == file_sha256(tiny_models.llava() / "model.safetensors")


def test_download_offline_and_unreachable_messages(db_url, tmp_path, monkeypatch):
    offline = run_cli(db_url, "models", "download", "org/model", "--name", "m")
    assert offline.returncode == 1
    assert "HF_HUB_OFFLINE" in offline.stderr
    assert len(offline.stderr.strip().splitlines()) == 1

    # A hub endpoint on a closed local port stands for a machine without network access.
    for variable, value in {"HF_HUB_OFFLINE": "0", "TRANSFORMERS_OFFLINE": "0", "HF_HOME": str(tmp_path / "hf"),
                            "HF_ENDPOINT": f"http://127.0.0.1:{free_port()}"}.items():
        monkeypatch.setenv(variable, value)
    unreachable = run_cli(db_url, "models", "download", "org/model", "--name", "m")
    assert unreachable.returncode == 1
    assert "could not reach the Hugging Face hub" in unreachable.stderr
    assert len(unreachable.stderr.strip().splitlines()) == 1


def test_registry_rows_never_hold_a_key(db):
    registry.add_model(db, "remote", "openai", base_url="http://127.0.0.1:9/v1", server_model="m",
                       api_key_env="REMOTE_KEY")
    with db.session() as session:
        model = session.scalar(select(Model).where(Model.name == "remote"))
        assert model.api_key_env == "REMOTE_KEY"
        assert "key" not in json.dumps(model.settings).lower()
