"""Trap items, seeded letter shuffling and the anti-leakage check."""

from __future__ import annotations

from collections import Counter

import pytest

from engine.pipeline.leakage import finding_words, leak_problems
from engine.pipeline.questions import NONE_OF_THE_ABOVE, ClosedQuestion
from engine.pipeline.samples import MaskFacts, Sample
from engine.pipeline.traps import lay_out

TYPES = ("diagnosis", "modality", "size", "shape", "spread", "location")
# Chi-square critical value for 4 degrees of freedom at p = 0.001.
CHI2_4DF_999 = 18.47


def question(number: int, question_type: str, distractors: int = 4, binary: bool = False):
    pool = tuple(f"wrong {question_type} {k}" for k in range(1 if binary else distractors))
    return ClosedQuestion(sample_id=f"s{number:05d}", slice_id=number, case_id=number,
                          question_type=question_type, source="mask", stem="Which?",
                          answer=f"right {question_type}", distractors=pool, fact="Because.",
                          binary=binary)


def many(count: int = 2400):
    questions = [question(n, TYPES[n % len(TYPES)]) for n in range(count)]
    questions += [question(count + n, "diagnosis", binary=True) for n in range(100)]
    return questions


@pytest.mark.parametrize("share", [0.0, 0.1, 0.2, 0.35])
def test_trap_share_matches_setting(share):
    laid = lay_out(many(), share, seed=5)
    five = [item for item in laid if len(item.options) == 5]
    traps = [item for item in five if item.is_trap]
    assert abs(len(traps) / len(five) - share) <= 0.02
    for question_type in TYPES:
        of_type = [item for item in five if item.question.question_type == question_type]
        typed_traps = sum(item.is_trap for item in of_type)
        assert abs(typed_traps / len(of_type) - share) <= 0.02


def test_trap_items_lose_their_answer():
    for item in lay_out(many(600), 0.2, seed=1):
        if not item.is_trap:
            continue
        assert item.gold == "E"
        assert item.original_answer == item.question.answer
        assert item.question.answer not in item.options.values()
        assert len(set(item.options.values())) == 5
        assert list(item.options) == list("ABCDE")


def test_every_option_layout():
    for item in lay_out(many(600), 0.2, seed=2):
        if item.question.binary:
            assert list(item.options) == ["A", "B"]
            assert not item.is_trap
            assert item.options[item.gold] == item.question.answer
            continue
        assert list(item.options) == list("ABCDE")
        assert item.options["E"] == NONE_OF_THE_ABOVE
        if not item.is_trap:
            assert item.options[item.gold] == item.question.answer
            assert item.original_answer is None


def test_gold_letters_are_balanced():
    laid = lay_out(many(), 0.2, seed=9)
    gold = Counter(item.gold for item in laid if len(item.options) == 5)
    expected = sum(gold.values()) / 5
    chi_square = sum((gold[letter] - expected) ** 2 / expected for letter in "ABCDE")
    assert chi_square < CHI2_4DF_999
    plain = Counter(item.gold for item in laid if len(item.options) == 5 and not item.is_trap)
    assert max(plain.values()) - min(plain.values()) <= 1
    binary = Counter(item.gold for item in laid if len(item.options) == 2)
    assert abs(binary["A"] - binary["B"]) <= 1


def test_questions_without_spare_distractor_are_never_traps():
    questions = [question(n, "size", distractors=3) for n in range(50)]
    questions += [question(50 + n, "size", distractors=4) for n in range(50)]
    laid = lay_out(questions, 0.2, seed=3)
    assert not any(item.is_trap for item in laid[:50])
    assert sum(item.is_trap for item in laid) == 20  # round(0.2 x 100), all among the eligible


def test_layout_is_reproducible_by_seed():
    questions = many(300)
    first = [(item.options, item.gold) for item in lay_out(questions, 0.2, seed=4)]
    again = [(item.options, item.gold) for item in lay_out(questions, 0.2, seed=4)]
    other = [(item.options, item.gold) for item in lay_out(questions, 0.2, seed=5)]
    assert first == again
    assert first != other


def sample(**mask_values):
    mask = MaskFacts(mask_id=1, region="whole", size="Medium", shape="Lobulated",
                     spread="Solitary Lesion", location="Upper-Left Region", area_px=900,
                     area_ratio=0.02, circularity=0.6, elongation=1.3, components=1,
                     dominant_fraction=1.0, centroid_x=40, centroid_y=30)
    return Sample(slice_id=1, slice_index=0, series_id=1, case_id=1, case="c", tumour_type="glioma",
                  tumour_class="glioma", source="10", modality="FLAIR", series_kind="image2d",
                  file_format="png", source_path="/x.png", volume_index=0, content_sha256="0",
                  affine=None, slice_axis=0, window=None, image_path="glioma/10_t1/1.png",
                  has_mask=True, width=240, height=240, mask=mask, sample_id="glioma/10_t1/1.png")


@pytest.mark.parametrize("stem, answer, leaked", [
    ("What is the diagnosis of this glioma?", "Glioma", "its answer"),
    ("Is this lobulated mass benign?", "Glioma", "lobulated"),
    ("Where is the upper lesion?", "Upper-Left Region", "upper"),
    ("On this FLAIR image, what is the size category?", "Medium", "flair"),
    ("What surrounds the tumour?", "Glioma", None),
    ("Why is the surrounding oedema so extensive?", "Mild", "extensive"),
])
def test_planted_leaks_are_caught(stem, answer, leaked):
    signs = {"lesion_found": True, "oedema": "Extensive", "location": None}
    finding = finding_words(sample(), signs)
    problems = leak_problems(stem, answer, finding)
    if leaked is None:
        assert problems == []
    else:
        assert any(leaked in problem for problem in problems), problems


def test_british_and_american_spellings_match():
    finding = finding_words(sample(), None, extra=["tumor"])
    assert leak_problems("Which tumour is this?", None, finding)
    assert not leak_problems("Which lesion is this?", None, finding)
