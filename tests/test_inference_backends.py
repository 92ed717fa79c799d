"""One behavioural suite for every inference backend, on tiny random-weight models.

Backends: transformers with LLaVA and with Idefics3, llama.cpp with a tiny Qwen2.5-VL
converted to GGUF + mmproj, and the OpenAI-compatible HTTP backend against
llama-cpp-python's server serving that GGUF on 127.0.0.1.
"""

from __future__ import annotations

import json

import pytest

from engine.inference import GenerationSettings, build_provenance, load_template
from engine.inference.hf_backend import TransformersBackend
from engine.inference.llamacpp_backend import LlamaCppBackend
from engine.inference.openai_backend import OpenAIBackend
from inference_fixtures import (MAX_NEW_TOKENS, gguf_pair, llama_server, mri_images,  # noqa: F401
                                tiny_models)

pytestmark = pytest.mark.slow

BACKENDS = ["transformers-llava", "transformers-idefics3", "llama.cpp", "openai"]
TRANSFORMERS = ["transformers-llava", "transformers-idefics3"]

QUESTIONS = [
    {"question": "Which MRI sequence is shown?",
     "options": {"A": "T1", "B": "T2", "C": "FLAIR", "D": "T1 contrast", "E": "None of the above"}},
    {"question": "Is the slice abnormal?", "options": {"A": "Abnormal", "B": "Healthy"}},
    {"question": "Where is the lesion?", "options": {"A": "Left frontal", "B": "Right frontal", "C": "Both"}},
]
# llama-cpp-python may generate up to 3 tokens past max_tokens to finish a UTF-8 character.
UTF8_EXTRA_TOKENS = 3


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request, tiny_models, gguf_pair):  # noqa: F811 - fixtures imported above
    name = request.param
    if name.startswith("transformers-"):
        instance = TransformersBackend(tiny_models.transformers(name.split("-", 1)[1]), device="cpu",
                                       batch_size=4, model_info={"name": name})
    elif name == "llama.cpp":
        instance = LlamaCppBackend(*gguf_pair, n_threads=2, model_info={"name": name})
    else:
        base_url = request.getfixturevalue("llama_server")
        # The tiny vocabulary has 400 tokens, so 500 top logprobs cover all of them.
        instance = OpenAIBackend(base_url, "tiny", top_logprobs=500, concurrency=3,
                                 model_info={"name": name})
    yield instance
    instance.close()


def closed_requests(image=None, settings=None):
    template = load_template("closed-letter")
    settings = settings or template.default_settings(max_new_tokens=MAX_NEW_TOKENS)
    return [template.request(image=image, settings=settings, key=index, **question)
            for index, question in enumerate(QUESTIONS)]


def set_batch_size(backend, size: int) -> None:
    if isinstance(backend, TransformersBackend):
        backend.batch_size = size
    elif isinstance(backend, OpenAIBackend):
        backend.concurrency = size
    # llama.cpp processes one request at a time, so there is nothing to set.


def assert_same_letters(first, second, tolerance=1e-4):
    assert first.letter_probs.keys() == second.letter_probs.keys()
    for letter in first.letter_probs:
        assert first.letter_probs[letter] == pytest.approx(second.letter_probs[letter], abs=tolerance)
    assert first.predicted_letter == second.predicted_letter


def test_letter_probabilities_cover_exactly_valid_letters(backend, mri_images):  # noqa: F811
    results = backend.letter_probabilities(closed_requests(mri_images["a"]))

    assert [result.key for result in results] == [0, 1, 2]
    for result, question in zip(results, QUESTIONS):
        assert set(result.letter_probs) == set(question["options"])
        assert sum(result.letter_probs.values()) == pytest.approx(1.0, abs=1e-9)
        assert all(value >= 0 for value in result.letter_probs.values())
        assert 0 < result.letter_mass <= 1
        assert result.predicted_letter in question["options"]
        assert result.text is None
        assert result.prompt_tokens > 0


def test_two_option_question_scores_only_a_and_b(backend, mri_images):  # noqa: F811
    result = backend.letter_probabilities(closed_requests(mri_images["a"])[1:2])[0]

    assert set(result.letter_probs) == {"A", "B"}
    assert result.letter_probs["A"] + result.letter_probs["B"] == pytest.approx(1.0)


def test_different_image_changes_letter_probabilities(backend, mri_images):  # noqa: F811
    first = backend.letter_probabilities(closed_requests(mri_images["a"])[:1])[0]
    second = backend.letter_probabilities(closed_requests(mri_images["b"])[:1])[0]

    difference = max(abs(first.letter_probs[k] - second.letter_probs[k]) for k in first.letter_probs)
    assert difference > 1e-4
    assert first.image_sha256 != second.image_sha256


def test_shared_image_letters_equal_separate_calls(backend, mri_images):  # noqa: F811
    separate = backend.letter_probabilities(closed_requests(mri_images["a"]))
    shared = backend.answer_many(mri_images["a"], closed_requests(), mode="letters")

    assert [r.key for r in shared] == [0, 1, 2]
    for single, reused in zip(separate, shared):
        assert_same_letters(single, reused)
        assert single.image_sha256 == reused.image_sha256
    if not isinstance(backend, OpenAIBackend):
        # Every question after the first reused the cached system prompt and image.
        assert all(result.cached_tokens > 0 for result in shared[1:])
        assert all(result.cached_tokens == 0 for result in separate)


def test_shared_image_generation_equals_separate_calls(backend, mri_images):  # noqa: F811
    separate = backend.generate(closed_requests(mri_images["a"]))
    shared = backend.answer_many(mri_images["a"], closed_requests(), mode="generate")

    for single, reused in zip(separate, shared):
        assert single.text == reused.text
        assert single.completion_tokens == reused.completion_tokens
        if single.letter_probs is not None:
            assert_same_letters(single, reused)


def test_new_image_is_not_answered_from_stale_cache(backend, mri_images):  # noqa: F811
    backend.answer_many(mri_images["a"], closed_requests(), mode="letters")
    after_switch = backend.answer_many(mri_images["b"], closed_requests(), mode="letters")
    separate_b = backend.letter_probabilities(closed_requests(mri_images["b"]))

    for reused, single in zip(after_switch, separate_b):
        assert_same_letters(reused, single)


def test_batch_of_one_equals_batch_of_three(backend, mri_images):  # noqa: F811
    images = [mri_images["a"], mri_images["b"], mri_images["a"]]
    requests = [request.with_image(image) for request, image in zip(closed_requests(), images)]
    try:
        set_batch_size(backend, 1)
        one_by_one = backend.generate(requests)
        set_batch_size(backend, 3)
        batched = backend.generate(requests)
    finally:
        set_batch_size(backend, 4 if isinstance(backend, TransformersBackend) else 3)

    for single, in_batch in zip(one_by_one, batched):
        assert single.text == in_batch.text
        if single.letter_probs is not None:
            assert_same_letters(single, in_batch)


def test_generate_reports_tokens_timings_and_letters(backend, mri_images):  # noqa: F811
    results = backend.generate(closed_requests(mri_images["a"]))

    for result, question in zip(results, QUESTIONS):
        assert isinstance(result.text, str)
        assert 1 <= result.completion_tokens <= MAX_NEW_TOKENS + UTF8_EXTRA_TOKENS
        assert result.prompt_tokens > 0
        assert result.finish_reason in ("stop", "length")
        assert result.timings.total_s > 0
        # The first generated token's distribution gives the letters for free.
        assert set(result.letter_probs) == set(question["options"])


def test_seeded_sampling_repeats(backend, mri_images):  # noqa: F811
    settings = GenerationSettings(max_new_tokens=MAX_NEW_TOKENS, temperature=1.0, top_p=0.9, seed=7)
    requests = closed_requests(mri_images["a"], settings)[:1]

    first = backend.generate(requests)[0]
    second = backend.generate(requests)[0]

    assert first.text == second.text
    assert first.settings.seed == 7


def test_provenance_records_template_model_settings_seed(backend, mri_images):  # noqa: F811
    result = backend.generate(closed_requests(mri_images["a"])[:1])[0]
    provenance = build_provenance(result)

    assert json.loads(json.dumps(provenance)) == provenance
    assert provenance["template"] == {"id": "closed-letter", "version": "1"}
    assert provenance["model"]["name"] == result.model["name"]
    assert provenance["backend"] == backend.backend_name
    assert provenance["settings"]["max_new_tokens"] == MAX_NEW_TOKENS
    assert provenance["settings"]["temperature"] == 0.0
    assert provenance["seed"] == 0
    assert provenance["letters"]["method"] is not None
    assert provenance["images_sha256"] == result.image_sha256
    assert provenance["backend_options"]["max_pixels"] == backend.max_pixels
    assert provenance["versions"]["workbench"]


@pytest.mark.parametrize("backend", TRANSFORMERS, indirect=True)
def test_adapter_changes_letters_and_unload_restores(backend, tiny_models, mri_images):  # noqa: F811
    arch = backend.model_info["name"].split("-", 1)[1]
    requests = closed_requests(mri_images["a"])[:1]
    base = backend.letter_probabilities(requests)[0]

    backend.load_adapter("random-lora", tiny_models.adapter(arch), sha256="f" * 64)
    try:
        adapted = backend.letter_probabilities(requests)[0]
        backend.set_adapter(None)
        disabled = backend.letter_probabilities(requests)[0]
        backend.set_adapter("random-lora")
        shared = backend.answer_many(mri_images["a"], closed_requests()[:2], mode="letters")[0]
    finally:
        backend.unload_adapter("random-lora")
    unloaded = backend.letter_probabilities(requests)[0]

    difference = max(abs(base.letter_probs[k] - adapted.letter_probs[k]) for k in base.letter_probs)
    assert difference > 1e-3
    assert adapted.model["adapter"]["name"] == "random-lora"
    assert build_provenance(adapted)["model"]["adapter"]["sha256"] == "f" * 64
    assert_same_letters(disabled, base, tolerance=1e-6)
    assert_same_letters(shared, adapted)
    assert_same_letters(unloaded, base, tolerance=1e-6)
    assert unloaded.model["adapter"] is None


def test_http_and_llamacpp_give_the_same_letters(gguf_pair, llama_server, mri_images):  # noqa: F811
    # The server renders prompts with the library's Qwen2.5-VL handler, the engine with its own
    # rendering; equal distributions show both send the model the same tokens.
    with LlamaCppBackend(*gguf_pair, n_threads=2) as local:
        local_results = local.letter_probabilities(closed_requests(mri_images["a"]))
    with OpenAIBackend(llama_server, "tiny", top_logprobs=500) as remote:
        remote_results = remote.letter_probabilities(closed_requests(mri_images["a"]))

    for local_result, remote_result in zip(local_results, remote_results):
        assert_same_letters(local_result, remote_result, tolerance=1e-3)
        assert local_result.letter_mass == pytest.approx(remote_result.letter_mass, rel=1e-2)
