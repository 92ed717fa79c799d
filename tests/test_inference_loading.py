"""Loading transformers models: device, dtype and quantization choices, remote code opt-in."""

from __future__ import annotations

import pytest
import torch

from engine.errors import InvalidInputError, WorkbenchError
from engine.inference import registry
from engine.inference.hf_backend import TransformersBackend
from engine.inference.hf_loading import pick_device, pick_dtype, quantization_config
from engine.inference.loader import open_backend
from inference_fixtures import tiny_models  # noqa: F401


def test_device_auto_and_override():
    expected = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"

    assert pick_device(None) == expected
    assert pick_device("auto") == expected
    assert pick_device("cpu") == "cpu"
    with pytest.raises(InvalidInputError, match="unknown"):
        pick_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(InvalidInputError, match="no CUDA GPU"):
            pick_device("cuda:0")


def test_dtype_names():
    assert pick_dtype("auto", "cpu") == torch.float32
    assert pick_dtype("bf16", "cpu") == torch.bfloat16
    assert pick_dtype("fp16", "cpu") == torch.float16
    assert pick_dtype(None, "mps") == torch.float16
    with pytest.raises(InvalidInputError, match="dtype 'int4' is unknown"):
        pick_dtype("int4", "cpu")


def test_quantization_needs_cuda_and_bitsandbytes():
    assert quantization_config(None, "cpu", torch.float32) is None
    assert quantization_config("none", "cpu", torch.float32) is None
    with pytest.raises(InvalidInputError, match="needs a CUDA GPU") as error:
        quantization_config("4bit", "cpu", torch.float32)
    assert "llama.cpp" in str(error.value)
    with pytest.raises(InvalidInputError, match="unknown"):
        quantization_config("3bit", "cpu", torch.float32)


@pytest.mark.slow
def test_remote_code_runs_only_when_enabled(tiny_models, db):  # noqa: F811
    folder = tiny_models.remote_code()

    with pytest.raises(WorkbenchError) as error:
        TransformersBackend(folder, device="cpu")
    assert "custom code" in str(error.value)
    assert "enable trust_remote_code" in str(error.value)
    assert "\n" not in str(error.value)

    registry.add_model(db, "custom", "transformers", path=folder, settings={"trust_remote_code": True},
                       compute_hash=False)
    with open_backend("custom", db, device="cpu") as backend:
        assert type(backend.adapters.model).__name__ == "TinyCustomModel"
        assert backend.options()["trust_remote_code"] is True
