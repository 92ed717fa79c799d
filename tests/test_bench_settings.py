"""Closed-benchmark loading and the rejection-aware and standard settings, on the released
MM-NeuroOnco v1.0 closed file and on small hand-made files."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from engine.bench.questions import (ClosedQuestion, load_closed_benchmark, source_of,
                                    tumour_class_of)
from engine.bench.settings import (REJECTION_AWARE, STANDARD, build_setting, format_options,
                                   letters_phrase, standard_question)
from engine.errors import InvalidInputError

CLOSED = "mm-neuroonco_benchmark_closed_v1.0.json"


@pytest.fixture
def closed_path(shared_data):
    return shared_data / CLOSED


@pytest.fixture
def raw_pairs(closed_path):
    document = json.loads(closed_path.read_text(encoding="utf-8"))
    return [pair for item in document for pair in item["vqa_pairs"]]


def test_load_released_file(closed_path):
    questions = load_closed_benchmark(closed_path)
    assert len(questions) == 3190
    assert Counter(q.question_type for q in questions) == {
        "diagnosis": 1000, "modality": 962, "size": 307, "shape": 307, "spread": 307,
        "location": 307}
    assert Counter(q.option_count for q in questions) == {5: 3074, 2: 116}
    traps = [q for q in questions if q.is_trap]
    assert len(traps) == 606
    assert Counter(q.question_type for q in traps) == {
        "diagnosis": 186, "modality": 181, "size": 55, "shape": 55, "spread": 67,
        "location": 62}
    assert all(q.gold == "E" and q.original_answer for q in traps)
    assert Counter(q.gold for q in questions) == {"A": 714, "B": 652, "C": 602, "D": 616,
                                                  "E": 606}
    assert len({q.key for q in questions}) == 3190


def test_item_classes_and_sources(closed_path):
    questions = load_closed_benchmark(closed_path)
    first_of_item = {q.item_id: q for q in questions if q.q_index == 0}
    assert Counter(q.tumour_class for q in first_of_item.values())["glioma"] == 131
    assert Counter(q.source for q in first_of_item.values()) == {
        "05": 122, "07": 37, "08": 530, "09": 106, "10": 55, "14": 37, "16": 113}


def test_path_helpers():
    path = "glioma/16_t1_t2_t1ce_flair_mask/BraTS2021_01648/BraTS2021_01648_flair.png"
    assert tumour_class_of(path) == "glioma"
    assert source_of(path) == "16"
    assert tumour_class_of("image.png") is None
    assert source_of("glioma/misc/image.png") is None


def test_rejection_aware_is_the_released_file(closed_path):
    questions = load_closed_benchmark(closed_path)
    assert build_setting(questions, REJECTION_AWARE) == questions


def test_standard_setting_on_released_file(closed_path, raw_pairs):
    questions = load_closed_benchmark(closed_path)
    standard = build_setting(questions, STANDARD)

    assert len(standard) == 3190 - 606 == 2584
    assert not any(q.is_trap for q in standard)
    assert not any("E" in q.options for q in standard)
    assert not any(text == "None of the above" for q in standard for text in q.options.values())
    assert Counter(q.option_count for q in standard) == {4: 2468, 2: 116}

    # Expected gold letters straight from the raw file: every answer of a non-trap pair.
    expected_gold = Counter(pair["answer"] for pair in raw_pairs if not pair.get("meta_trap"))
    assert Counter(q.gold for q in standard) == expected_gold
    assert "E" not in expected_gold


def test_standard_keeps_binary_and_option_order(closed_path):
    questions = {q.key: q for q in load_closed_benchmark(closed_path)}
    for converted in build_setting(questions.values(), STANDARD):
        original = questions[converted.key]
        if original.option_count == 2:
            assert converted == original
        else:
            assert list(converted.options.items()) == list(original.options.items())[:4]
        assert converted.gold == original.gold
        assert converted.question_type == original.question_type


def _question(**changes) -> ClosedQuestion:
    fields = dict(item_id=1, q_index=0, question_type="size", stem="How large is the lesion?",
                  options={"A": "Small", "B": "Medium", "C": "Large", "D": "Diffuse",
                           "E": "None of the above"}, gold="B")
    fields.update(changes)
    return ClosedQuestion(**fields)


def test_standard_question_removes_last_rejection_option():
    converted = standard_question(_question())
    assert converted.letters == ("A", "B", "C", "D")
    assert standard_question(_question(gold="E", is_trap=True, original_answer="Large")) is None


def test_standard_rejects_rejection_option_in_the_middle():
    question = _question(options={"A": "Small", "B": "None of the above", "C": "Large"},
                         gold="A")
    with pytest.raises(InvalidInputError, match="removes only a last rejection option"):
        standard_question(question)


def test_unknown_setting():
    with pytest.raises(InvalidInputError, match="unknown setting 'open'"):
        build_setting([_question()], "open")


def test_prompt_lists_only_own_letters():
    assert letters_phrase("AB") == "A or B"
    assert letters_phrase("ABCD") == "A, B, C, or D"
    assert letters_phrase("ABCDE") == "A, B, C, D, or E"
    binary = _question(options={"A": "Healthy", "B": "Abnormal"}, gold="A")
    assert format_options(binary) == "A. Healthy\nB. Abnormal"
    lines = format_options(standard_question(_question())).splitlines()
    assert lines == ["A. Small", "B. Medium", "C. Large", "D. Diffuse"]


def _write(tmp_path, document) -> str:
    path = tmp_path / "closed.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def _item(**pair_changes) -> dict:
    pair = {"question_type": "diagnosis", "question": "What is the most likely diagnosis?",
            "options": {"A": "glioma", "B": "meningioma", "E": "None of the above"},
            "answer": "A"}
    pair.update(pair_changes)
    return {"id": 7, "image_path": "glioma/08_t1/x.png", "vqa_pairs": [pair]}


@pytest.mark.parametrize("document, message", [
    ({"items": []}, "expected a JSON list"),
    ([{"id": "7", "image_path": "a/b.png", "vqa_pairs": []}], "no integer 'id'"),
    ([_item(), _item()], "two items with id 7"),
    ([_item(answer="C")], "answer 'C', which is not one of its options A, B, E"),
    ([_item(options={"A": "glioma"})], "at least two letters"),
    ([_item(options={"a": "glioma", "b": "x"})], "single capital letters"),
    ([_item(meta_trap=True)], "marked meta_trap but its answer A is 'glioma'"),
    ([_item(answer="E")], "no 'meta_trap': true"),
    ([_item(meta_trap="yes", answer="E")], "meta_trap 'yes'"),
])
def test_invalid_benchmark_files(tmp_path, document, message):
    with pytest.raises(InvalidInputError, match=message):
        load_closed_benchmark(_write(tmp_path, document))


def test_unreadable_benchmark_files(tmp_path):
    with pytest.raises(InvalidInputError, match="not found"):
        load_closed_benchmark(tmp_path / "absent.json")
    broken = tmp_path / "broken.json"
    broken.write_text("[{", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="not readable JSON"):
        load_closed_benchmark(broken)


def test_trap_item_loads(tmp_path):
    [question] = load_closed_benchmark(_write(tmp_path, [_item(
        answer="E", meta_trap=True, meta_original_answer="ependymoma")]))
    assert question.is_trap
    assert question.original_answer == "ependymoma"
    assert question.tumour_class == "glioma"
    assert question.source == "08"
