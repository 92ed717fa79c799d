"""GGUF conversion, metadata, chat-handler choice and error messages of the llama.cpp backend."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from engine.errors import InvalidInputError, WorkbenchError
from engine.inference import GenerationSettings, Request, load_template, prepare_image
from engine.inference.gguf_convert import ENV_VAR, convert_hf_to_gguf, converter_dir
from engine.inference.gguf_metadata import read_gguf_info
from engine.inference.llamacpp_backend import LlamaCppBackend
from engine.inference.llamacpp_handlers import (choose_handler, default_context_size,
                                                estimate_image_tokens)
from inference_fixtures import MAX_NEW_TOKENS, gguf_pair, mri_images, tiny_models  # noqa: F401

QUESTION = {"question": "Is the slice abnormal?", "options": {"A": "Abnormal", "B": "Healthy"}}


def write_gguf(path: Path, architecture: str, fields: dict) -> Path:
    """Write a GGUF file that holds only metadata (no tensors)."""
    import gguf

    writer = gguf.GGUFWriter(str(path), architecture)
    for key, value in fields.items():
        if isinstance(value, str):
            writer.add_string(key, value)
        else:
            writer.add_uint32(key, value)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


# --------------------------------------------------------------------------- conversion


@pytest.mark.slow
def test_converter_writes_text_model_and_mmproj(gguf_pair):  # noqa: F811
    model = read_gguf_info(gguf_pair[0])
    mmproj = read_gguf_info(gguf_pair[1])

    assert model.kind == "model"
    assert model.architecture == "qwen2vl"
    assert model.quantization == "F16"
    assert model.context_length == 1024
    assert "<|im_start|>" in model.chat_template
    assert mmproj.kind == "mmproj"
    assert mmproj.projector_type == "qwen2.5vl_merger"
    assert mmproj.patch_size == 14


@pytest.mark.slow
def test_converter_needs_fallback_for_local_tokenizer(tiny_models, tmp_path):  # noqa: F811
    with pytest.raises(WorkbenchError) as error:
        convert_hf_to_gguf(tiny_models.qwen_hf(), tmp_path / "model.gguf")

    assert "pre-tokenizer" in str(error.value)
    assert not (tmp_path / "model.gguf").exists()


def test_converter_rejects_folder_without_config(tmp_path):
    with pytest.raises(InvalidInputError, match="no config.json"):
        convert_hf_to_gguf(tmp_path, tmp_path / "out.gguf")


def test_converter_location_comes_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    with pytest.raises(WorkbenchError, match=ENV_VAR):
        converter_dir()

    monkeypatch.delenv(ENV_VAR)
    assert (converter_dir() / "convert_hf_to_gguf.py").is_file()


# --------------------------------------------------------------------------- handler choice


@pytest.fixture
def metadata_files(tmp_path):
    template = "{% for m in messages %}{{ m['content'] }}{% endfor %}"
    return {
        "qwen_text": write_gguf(tmp_path / "qwen.gguf", "qwen2vl", {"tokenizer.chat_template": template}),
        "llama_text": write_gguf(tmp_path / "llama.gguf", "llama", {"general.file_type": 15}),
        "qwen2_proj": write_gguf(tmp_path / "q2.gguf", "clip", {"clip.projector_type": "qwen2vl_merger",
                                                                "clip.vision.patch_size": 14}),
        "qwen25_proj": write_gguf(tmp_path / "q25.gguf", "clip", {"clip.projector_type": "qwen2.5vl_merger"}),
        "llava_proj": write_gguf(tmp_path / "mlp.gguf", "clip", {"clip.projector_type": "mlp",
                                                                 "clip.vision.image_size": 336,
                                                                 "clip.vision.patch_size": 14}),
        "other_proj": write_gguf(tmp_path / "other.gguf", "clip", {"clip.projector_type": "resampler"}),
    }


def test_handler_chosen_from_gguf_metadata(metadata_files):
    info = {name: read_gguf_info(path) for name, path in metadata_files.items()}

    assert choose_handler(info["qwen_text"], info["qwen25_proj"]) == "qwen2.5-vl"
    assert choose_handler(info["qwen_text"], info["qwen2_proj"]) == "mtmd"
    assert choose_handler(info["llama_text"], info["llava_proj"]) == "llava-1-5"
    assert choose_handler(info["qwen_text"], info["qwen25_proj"], override="mtmd") == "mtmd"
    assert info["llama_text"].quantization == "Q4_K_M"


def test_handler_choice_fails_clearly(metadata_files):
    text = read_gguf_info(metadata_files["llama_text"])
    with pytest.raises(InvalidInputError, match="no chat template") as error:
        choose_handler(text, read_gguf_info(metadata_files["other_proj"]))
    assert "\n" not in str(error.value)
    with pytest.raises(InvalidInputError, match="unknown"):
        choose_handler(text, None, override="llava-9")


def test_context_is_sized_for_the_image(metadata_files):
    qwen = read_gguf_info(metadata_files["qwen2_proj"])
    llava = read_gguf_info(metadata_files["llava_proj"])
    text = read_gguf_info(metadata_files["llama_text"])

    # Qwen2-VL: one token per 2 x 2 patches of 14 px; 768 x 768 pixels give 753 tokens.
    assert estimate_image_tokens(qwen, 768 * 768) == 753
    assert estimate_image_tokens(llava, None) == 576
    assert estimate_image_tokens(None, 768 * 768) == 0
    assert default_context_size(text, qwen, 768 * 768) == 2816
    assert default_context_size(text, qwen, 768 * 768) >= 2048 + 753


# --------------------------------------------------------------------------- backend


@pytest.mark.slow
@pytest.mark.parametrize("handler", ["qwen2.5-vl", "mtmd"])
def test_engine_text_matches_library_chat_completion(gguf_pair, mri_images, handler):  # noqa: F811
    from llama_cpp import Llama
    from llama_cpp.llama_chat_format import MTMDChatHandler, Qwen25VLChatHandler

    template = load_template("closed-letter")
    request = template.request(image=mri_images["a"], settings=template.default_settings(max_new_tokens=8),
                               **QUESTION)
    with LlamaCppBackend(*gguf_pair, chat_handler=handler, n_threads=2) as backend:
        ours = backend.generate([request])[0]
        assert backend.options()["chat_handler"] == handler

    library_handler = {"qwen2.5-vl": Qwen25VLChatHandler, "mtmd": MTMDChatHandler}[handler]
    llama = Llama(model_path=str(gguf_pair[0]), n_ctx=1024, n_threads=2, verbose=False,
                  chat_handler=library_handler(clip_model_path=str(gguf_pair[1]), verbose=False))
    messages = template.render(**QUESTION)
    messages[1]["content"][0] = {"type": "image_url",
                                 "image_url": {"url": prepare_image(mri_images["a"]).data_uri}}
    theirs = llama.create_chat_completion(messages=messages, max_tokens=8, temperature=0.0, top_p=1.0,
                                          top_k=0, min_p=0.0, repeat_penalty=1.0)
    llama.close()

    assert ours.text == theirs["choices"][0]["message"]["content"]
    assert ours.completion_tokens == theirs["usage"]["completion_tokens"]


@pytest.mark.slow
def test_json_schema_constrains_output(gguf_pair, mri_images):  # noqa: F811
    schema = {"type": "object", "properties": {"lesion": {"type": "boolean"}}, "required": ["lesion"]}
    template = load_template("open")
    request = template.request(image=mri_images["a"], question="Is there a lesion?",
                               settings=GenerationSettings(max_new_tokens=200, json_schema=schema))
    with LlamaCppBackend(*gguf_pair, n_threads=2) as backend:
        result = backend.generate([request])[0]

    assert isinstance(json.loads(result.text)["lesion"], bool)


@pytest.mark.slow
def test_small_context_gives_clear_error(gguf_pair, mri_images):  # noqa: F811
    request = load_template("closed-letter").request(image=mri_images["a"], **QUESTION)
    with LlamaCppBackend(*gguf_pair, n_ctx=64, n_threads=2) as backend:
        with pytest.raises(InvalidInputError, match="n_ctx is 64") as error:
            backend.letter_probabilities([request])
    assert "image tokens" in str(error.value)


@pytest.mark.slow
def test_model_without_mmproj_answers_text_and_rejects_images(gguf_pair, mri_images):  # noqa: F811
    text_request = Request(messages=({"role": "user", "content": "Answer A or B."},), valid_letters=("A", "B"),
                           settings=GenerationSettings(max_new_tokens=4))
    image_request = load_template("closed-letter").request(image=mri_images["a"], **QUESTION)
    with LlamaCppBackend(gguf_pair[0], None, n_threads=2) as backend:
        result = backend.generate([text_request])[0]
        with pytest.raises(InvalidInputError, match="no mmproj"):
            backend.letter_probabilities([image_request])

    assert set(result.letter_probs) == {"A", "B"}
    assert result.completion_tokens >= 1


@pytest.mark.slow
def test_corrupt_gguf_gives_one_line_error(gguf_pair, tmp_path):  # noqa: F811
    truncated = tmp_path / "truncated.gguf"
    truncated.write_bytes(gguf_pair[0].read_bytes()[:2000])
    not_gguf = tmp_path / "notes.gguf"
    not_gguf.write_text("these are not weights")

    cases = [
        ((truncated, gguf_pair[1]), "damaged or truncated"),
        ((not_gguf, gguf_pair[1]), "not a GGUF file"),
        ((gguf_pair[0], tmp_path / "missing-mmproj.gguf"), "does not exist"),
        ((gguf_pair[1], gguf_pair[1]), "is a vision projector"),
        ((gguf_pair[0], gguf_pair[0]), "not a vision projector"),
    ]
    for (model, mmproj), expected in cases:
        with pytest.raises(InvalidInputError) as error:
            LlamaCppBackend(model, mmproj, n_threads=2)
        message = str(error.value)
        assert expected in message
        assert "\n" not in message


@pytest.mark.slow
def test_damaged_tensor_data_fails_at_load(gguf_pair, tmp_path):  # noqa: F811
    # Header intact, tensor data cut: the metadata reader may accept it, llama.cpp must not.
    damaged = tmp_path / "cut.gguf"
    data = gguf_pair[0].read_bytes()
    damaged.write_bytes(data[: len(data) - 4096])
    mmproj = tmp_path / "mmproj.gguf"
    shutil.copy(gguf_pair[1], mmproj)

    with pytest.raises(InvalidInputError) as error:
        LlamaCppBackend(damaged, mmproj, n_threads=2)
    assert str(damaged) in str(error.value)
    assert "\n" not in str(error.value)
