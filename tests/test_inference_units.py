"""Letter math, prompt templates, the image-size policy and request checks (no models)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from engine.errors import InvalidInputError, NotFoundError, WorkbenchError
from engine.inference import (GenerationSettings, Request, apply_size_policy, available_templates,
                              letters_phrase, load_template, prepare_image)
from engine.inference import letters
from engine.inference.prompts import PROMPTS_DIR, read_template
from engine.inference.types import Result


# --------------------------------------------------------------------------- letters


def test_letters_phrase_lists_exactly_the_letters():
    assert letters_phrase(["A", "B"]) == "A or B"
    assert letters_phrase(["A", "B", "C", "D", "E"]) == "A, B, C, D or E"
    assert letters_phrase(["C"]) == "C"
    with pytest.raises(WorkbenchError):
        letters_phrase([])


def test_token_texts_that_spell_a_letter():
    assert letters.letter_of_token_text("A") == "A"
    assert letters.letter_of_token_text(" B") == "B"
    assert letters.letter_of_token_text("\u2581C") == "C"
    for text in ("a", "AB", " A.", "(A", "  A", ""):
        assert letters.letter_of_token_text(text) is None


def test_letter_table_collects_both_forms():
    table = letters.letter_token_table([(5, "A"), (9, " A"), (7, "B"), (3, "Answer"), (4, " b")])

    assert table == {"A": (5, 9), "B": (7,)}
    assert letters.ids_for_letters(table, ["B"]) == {"B": (7,)}
    with pytest.raises(WorkbenchError, match="no token for option letter"):
        letters.ids_for_letters(table, ["A", "C"])


def test_probabilities_from_logits_sum_over_both_forms():
    logits = np.log(np.array([0.1, 0.2, 0.05, 0.15, 0.5]))  # ids 0..4
    probs, mass = letters.from_logits(logits, {"A": (0, 1), "B": (2,)})

    assert mass == pytest.approx(0.35)
    assert probs["A"] == pytest.approx(0.3 / 0.35)
    assert probs["B"] == pytest.approx(0.05 / 0.35)
    assert sum(probs.values()) == pytest.approx(1.0)


def test_probabilities_survive_tiny_letter_mass():
    logits = np.zeros(10)
    logits[0] = 2000.0  # a non-letter token takes all the mass
    probs, mass = letters.from_logits(logits, {"A": (1,), "B": (2,)})

    assert mass == 0.0
    assert probs == pytest.approx({"A": 0.5, "B": 0.5})


def test_probabilities_from_top_logprobs():
    top = [(" A", math.log(0.4)), ("A", math.log(0.1)), ("B", math.log(0.2)), ("C", math.log(0.3))]
    probs, mass = letters.from_top_logprobs(top, ["A", "B"])

    assert mass == pytest.approx(0.7)
    assert probs == pytest.approx({"A": 0.5 / 0.7, "B": 0.2 / 0.7})
    assert letters.from_top_logprobs([("x", 0.0)], ["A", "B"]) == (None, 0.0)


def test_predicted_letter_prefers_the_earliest_on_ties():
    result = Result(key=1, letter_probs={"A": 0.4, "B": 0.4, "C": 0.2})

    assert result.predicted_letter == "A"
    assert Result(key=2).predicted_letter is None


# --------------------------------------------------------------------------- templates


def test_shipped_templates_load_and_render():
    templates = available_templates()
    ids = {template.id for template in templates}

    assert {"closed-letter", "closed-reasoning", "open"} <= ids
    for template in templates:
        assert template.path.name == f"{template.id}.v{template.version}.toml"
        assert template.path.parent == PROMPTS_DIR


def test_closed_prompt_lists_only_the_question_letters():
    template = load_template("closed-letter")
    two = template.render(question="Is it abnormal?", options={"A": "Abnormal", "B": "Healthy"})
    five = template.render(question="Which?", options={"A": "1", "B": "2", "C": "3", "D": "4",
                                                       "E": "None of the above"})

    two_text = two[-1]["content"][-1]["text"]
    assert "(A or B)" in two_text
    assert "C" not in two_text.replace("Abnormal", "")
    assert "A, B, C, D or E" in five[-1]["content"][-1]["text"]
    assert two[0] == {"role": "system", "content": "You are an expert radiologist."}
    assert two[-1]["content"][0] == {"type": "image"}


def test_reasoning_template_asks_for_final_and_explanation():
    text = load_template("closed-reasoning").render(question="Q?", options={"A": "x", "B": "y"})[-1]
    body = text["content"][-1]["text"]

    assert "Final: <letter>" in body
    assert "Explanation:" in body
    assert "A or B" in body


def test_template_request_carries_id_version_letters_settings():
    template = load_template("closed-letter")
    request = template.request(question="Q?", options={"A": "x", "B": "y"}, key=42)

    assert request.template_id == "closed-letter"
    assert request.template_version == "1"
    assert request.valid_letters == ("A", "B")
    assert request.settings.max_new_tokens == 8
    assert request.images == ()
    assert request.key == 42


def test_template_errors_name_the_problem(tmp_path):
    with pytest.raises(InvalidInputError, match="needs a value"):
        load_template("open").render()
    with pytest.raises(InvalidInputError, match="needs 'question' and 'options'"):
        load_template("closed-letter").render(question="Q?")
    with pytest.raises(NotFoundError, match="available"):
        load_template("no-such-template")

    (tmp_path / "wrong-name.toml").write_text('id = "x"\nversion = "1"\nkind = "open"\nuser = "Hi"\n')
    with pytest.raises(InvalidInputError, match=r"must be named x\.v1\.toml"):
        read_template(tmp_path / "wrong-name.toml")
    (tmp_path / "y.v1.toml").write_text('id = "y"\nversion = "1"\nkind = "poem"\nuser = "Hi"\n')
    with pytest.raises(InvalidInputError, match="kind 'poem'"):
        read_template(tmp_path / "y.v1.toml")
    (tmp_path / "z.v1.toml").write_text('id = "z"\nversion = "1"\nkind = "open"\nuser = "{% if %}"\n')
    with pytest.raises(InvalidInputError, match="'user' line 1"):
        read_template(tmp_path / "z.v1.toml")
    (tmp_path / "s.v1.toml").write_text('id = "s"\nversion = "1"\nkind = "open"\nuser = "Hi"\n'
                                        '[settings]\nmax_tokens = 3\n')
    with pytest.raises(InvalidInputError, match="max_tokens"):
        read_template(tmp_path / "s.v1.toml")


def test_extraction_templates_take_free_variables_and_a_schema(tmp_path):
    (tmp_path / "silver-a.v1.toml").write_text(
        'id = "silver-a"\nversion = "1"\nkind = "extraction"\n'
        'user = "Findings: {{ description }}"\n'
        '[json_schema]\ntype = "object"\n')
    (tmp_path / "silver-a.v2.toml").write_text(
        'id = "silver-a"\nversion = "2"\nkind = "extraction"\nuser = "v2 {{ description }}"\n')

    latest = load_template("silver-a", search_dirs=[tmp_path])
    first = load_template("silver-a", version="1", search_dirs=[tmp_path])
    request = first.request(image=b"png", description="round lesion")

    assert latest.version == "2"
    assert request.settings.json_schema == {"type": "object"}
    assert request.messages[-1]["content"][-1]["text"] == "Findings: round lesion"
    assert request.valid_letters == ()


# --------------------------------------------------------------------------- images


def test_size_policy_shrinks_keeping_aspect_and_never_enlarges():
    large = Image.new("L", (2000, 1000))
    small = Image.new("RGB", (240, 240))

    shrunk = apply_size_policy(large, 768 * 768)
    assert shrunk.mode == "RGB"
    assert shrunk.width * shrunk.height <= 768 * 768
    assert shrunk.width / shrunk.height == pytest.approx(2.0, rel=0.01)
    assert apply_size_policy(small, 768 * 768).size == (240, 240)
    assert apply_size_policy(large, None).size == (2000, 1000)
    with pytest.raises(InvalidInputError):
        apply_size_policy(small, 0)


def test_prepare_image_accepts_paths_bytes_arrays(tmp_path):
    array = (np.arange(64 * 48) % 256).astype(np.uint8).reshape(48, 64)
    path = tmp_path / "slice.png"
    Image.fromarray(array).save(path)

    from_array = prepare_image(array)
    from_path = prepare_image(path)
    from_bytes = prepare_image(path.read_bytes())

    assert from_array.sha256 == from_path.sha256 == from_bytes.sha256
    assert from_array.image.size == (64, 48)
    assert from_path.data_uri.startswith("data:image/png;base64,")
    assert prepare_image(from_path) is from_path


def test_bad_images_are_rejected(tmp_path):
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(InvalidInputError, match="not a readable image"):
        prepare_image(tmp_path / "notes.png")
    with pytest.raises(InvalidInputError, match="does not exist"):
        prepare_image(tmp_path / "missing.png")
    with pytest.raises(InvalidInputError, match="uint8"):
        prepare_image(np.zeros((4, 4), dtype=np.float32))


# --------------------------------------------------------------------------- settings, requests


def test_generation_settings_validate_and_round_trip():
    settings = GenerationSettings(max_new_tokens=5, temperature=0.7, top_p=0.9, seed=3, stop=["\n"])

    assert not settings.greedy
    assert GenerationSettings.from_dict(settings.as_dict()) == settings
    assert GenerationSettings().greedy
    for bad in ({"max_new_tokens": 0}, {"temperature": -1}, {"top_p": 0}, {"top_p": 1.5}):
        with pytest.raises(InvalidInputError):
            GenerationSettings(**bad)
    with pytest.raises(InvalidInputError, match="unknown generation setting"):
        GenerationSettings.from_dict({"beams": 4})


def test_request_checks_letters_and_image_count():
    messages = ({"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Q"}]},)

    with pytest.raises(InvalidInputError, match="invalid"):
        Request(messages=messages, valid_letters=("a",))
    with pytest.raises(InvalidInputError, match="repeat"):
        Request(messages=messages, valid_letters=("A", "A"))
    with pytest.raises(InvalidInputError, match="1 image part"):
        Request(messages=messages).check_images()
    Request(messages=messages).with_image(b"x").check_images()
