"""Template generation of closed and open questions from sample facts."""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import replace

import pytest

from engine.pipeline.generate_closed import NO_LESION, closed_questions
from engine.pipeline.generate_open import KEYWORD_VOCABULARY, eval_keywords, open_questions
from engine.pipeline.leakage import finding_words, leak_problems
from engine.pipeline.mimics import load_mimics
from engine.pipeline.samples import MaskFacts, Sample
from engine.pipeline.vocabulary import comparison_key, empty_fields
from engine.semantics.rules import LOCATION_LABELS, SHAPE_LABELS, SIZE_LABELS, SPREAD_LABELS

MIMICS = load_mimics()


def mask(**values):
    facts = dict(mask_id=1, region="whole", size="Medium", shape="Lobulated",
                 spread="Solitary Lesion", location="Upper-Left Region", area_px=1300,
                 area_ratio=0.0231, circularity=0.612, elongation=1.27, components=1,
                 dominant_fraction=1.0, centroid_x=61.4, centroid_y=50.6)
    facts.update(values)
    return MaskFacts(**facts)


def sample(tumour_class="glioma", modality="T1CE", mask_facts=None, number=1):
    return Sample(slice_id=number, slice_index=0, series_id=number, case_id=number,
                  case=f"c{number}", tumour_type=tumour_class, tumour_class=tumour_class,
                  source="10", modality=modality, series_kind="image2d", file_format="png",
                  source_path="/x.png", volume_index=0, content_sha256="0", affine=None,
                  slice_axis=0, window=None, image_path=f"{tumour_class}/10_t1/{number}.png",
                  has_mask=mask_facts is not None, width=240, height=240, mask=mask_facts,
                  sample_id=f"{tumour_class}/10_t1/{number}.png")


def by_type(questions):
    return {question.question_type: question for question in questions}


def test_tumour_slice_with_mask():
    questions = by_type(closed_questions(sample(mask_facts=mask()), None, None, MIMICS, seed=0))
    assert list(questions) == ["diagnosis", "modality", "size", "shape", "spread", "location"]
    diagnosis = questions["diagnosis"]
    assert diagnosis.answer == "Glioma"
    assert diagnosis.distractors == ("Metastasis", "Lymphoma", "Abscess",
                                     "Tumefactive demyelination")
    assert questions["size"].answer == "Medium"
    assert questions["location"].answer == "Upper-Left Region"
    assert questions["modality"].answer == "T1-weighted with contrast (T1CE)"
    for question in questions.values():
        keys = [comparison_key(text) for text in (question.answer, *question.distractors)]
        assert len(set(keys)) == len(keys), question
        assert len(question.distractors) >= 4, question
        assert question.source in ("metadata", "mask")


def test_mask_facts_quoted_in_reasoning_facts():
    questions = by_type(closed_questions(sample(mask_facts=mask()), None, None, MIMICS, seed=0))
    assert "2.31%" in questions["size"].fact
    assert "circularity of 0.61" in questions["shape"].fact
    assert "elongation of 1.27" in questions["shape"].fact
    assert "x=61, y=51 in a 240 x 240" in questions["location"].fact
    assert "upper third of the rows and the left third" in questions["location"].fact


@pytest.mark.parametrize("tumour_class, answer", [("healthy", "Healthy"), ("tumor", "Abnormal")])
def test_binary_diagnosis(tumour_class, answer):
    questions = by_type(closed_questions(sample(tumour_class), None, None, MIMICS, seed=0))
    assert list(questions) == ["diagnosis", "modality"]
    diagnosis = questions["diagnosis"]
    assert diagnosis.binary
    assert diagnosis.answer == answer
    assert diagnosis.distractors == (({"Healthy", "Abnormal"} - {answer}).pop(),)


def test_unknown_type_gets_diagnosis_only_with_a_lesion():
    plain = closed_questions(sample("unknown", modality=None), None, None, MIMICS, seed=0)
    assert plain == []
    with_mask = by_type(closed_questions(sample("unknown", mask_facts=mask()), None, None,
                                         MIMICS, seed=0))
    assert with_mask["diagnosis"].answer == "Abnormal"


def test_silver_signs_questions():
    signs = dict(empty_fields(), lesion_found=True, modality="T1CE", location="Lower-Right",
                 shape="Oval", margins="Ill-defined", texture="Homogeneous", enhancement="Ring",
                 signal_intensity="Hyperintense")
    questions = by_type(closed_questions(sample(), signs, "audited", MIMICS, seed=0))
    assert questions["shape"].answer == "Oval"
    assert questions["shape"].source == "silver"
    assert questions["location"].answer == "Lower-Right Region"
    assert questions["margins"].binary
    assert questions["margins"].distractors == ("Well-circumscribed",)
    assert questions["texture"].binary
    assert "No enhancement" in questions["enhancement"].distractors
    assert len(questions["enhancement"].distractors) == 4
    assert questions["signal_intensity"].distractors[-1] == NO_LESION
    assert "audited silver label" in questions["margins"].fact


def test_mask_facts_take_precedence_over_silver_shape_and_location():
    signs = dict(empty_fields(), lesion_found=True, location="Lower-Right", shape="Oval")
    questions = by_type(closed_questions(sample(mask_facts=mask()), signs, "fused", MIMICS, 0))
    assert questions["shape"].source == "mask"
    assert questions["location"].answer == "Upper-Left Region"


def test_general_terms_get_no_closed_question():
    signs = dict(empty_fields(), lesion_found=True, modality="T1CE", shape="Round/Oval",
                 enhancement="Present")
    questions = by_type(closed_questions(sample(), signs, "audited", MIMICS, seed=0))
    assert "shape" not in questions
    assert "enhancement" not in questions


def test_decoys_respect_the_facts():
    huge = mask(size="Large/Extensive", area_ratio=0.62, elongation=4.0, components=12,
                spread="Scattered/Multifocal", dominant_fraction=0.3)
    questions = by_type(closed_questions(sample(mask_facts=huge), None, None, MIMICS, seed=0))
    assert "More than half of the image" not in questions["size"].distractors
    assert "Linear" not in questions["shape"].distractors
    assert "More than ten separate lesions" not in questions["spread"].distractors
    assert not questions["size"].can_be_trap


def test_template_stems_never_leak():
    combos = itertools.product(SIZE_LABELS, SHAPE_LABELS, SPREAD_LABELS, LOCATION_LABELS)
    signs = dict(empty_fields(), lesion_found=True, modality="FLAIR", margins="Ill-defined",
                 texture="Heterogeneous", oedema="Extensive", signal_intensity="Mixed")
    for number, (size, shape, spread, location) in enumerate(combos):
        tumour = ("glioma", "meningioma", "pituitary", "neuronal_tumor", "tumor")[number % 5]
        item = sample(tumour, "FLAIR", mask(size=size, shape=shape, spread=spread,
                                            location=location), number)
        finding = finding_words(item, signs)
        for seed in (0, 1, 2):
            for question in closed_questions(item, signs, "audited", MIMICS, seed):
                assert leak_problems(question.stem, question.answer, finding) == [], question
        for question in open_questions(item, signs, MIMICS):
            assert leak_problems(question.stem, None, finding) == [], question


def test_open_questions_order_and_numbers():
    questions = open_questions(sample(mask_facts=mask()), None, MIMICS)
    assert [q.question_type for q in questions] == ["Detail", "Location", "Detail", "Detail",
                                                    "Reasoning"]
    assert [q.order for q in questions] == [1, 2, 3, 4, 5]
    answers = {q.aspect: q.reference_answer for q in questions}
    assert "2.31% of the image area" in answers["size"]
    assert "x=61, y=51" in answers["location"]
    assert "circularity of 0.61" in answers["shape"]
    assert "elongation of 1.27" in answers["shape"]
    assert "solitary" in answers["spread"]
    assert "glioma" in answers["reasoning"]
    assert "2.31%" in answers["reasoning"]
    for question in questions:
        expected = [word for word in KEYWORD_VOCABULARY
                    if word in question.reference_answer.lower()]
        assert list(question.keywords) == expected


def test_open_questions_need_a_mask():
    assert open_questions(sample(), None, MIMICS) == []


def test_reasoning_answer_lists_silver_signs():
    signs = dict(empty_fields(), lesion_found=True, margins="Ill-defined", enhancement="Present")
    reasoning = open_questions(sample(mask_facts=mask()), signs, MIMICS)[-1]
    assert "with ill-defined margins and present enhancement" in reasoning.reference_answer


def test_keyword_rule_reproduces_published_open_benchmark(shared_data):
    items = json.loads((shared_data / "mm-neuroonco_benchmark_open_v1.0.json").read_text())
    pairs = [pair for item in items for pair in item["qa_pairs"]]
    assert len(pairs) == 1215
    for pair in pairs:
        assert set(eval_keywords(pair["reference_answer"])) == set(pair["eval_keywords"]), pair


def test_mimic_table_rules():
    for name, diagnosis in MIMICS.classes.items():
        assert len(diagnosis.mimics) >= 4, name
        own = comparison_key(diagnosis.answer)
        assert own not in {comparison_key(text) for text in diagnosis.mimics}, name
    assert MIMICS.diagnosis("glioma").mimics[:3] == ("Metastasis", "Lymphoma", "Abscess")
    assert MIMICS.diagnosis("meningioma").mimics[:3] == ("Schwannoma", "Hemangiopericytoma",
                                                         "Dural metastasis")
    assert MIMICS.diagnosis("pituitary").mimics[:2] == ("Craniopharyngioma", "Rathke cleft cyst")
    lymphoma = MIMICS.diagnosis("lymphoma")
    assert lymphoma.answer == "Lymphoma"
    assert "Lymphoma" not in lymphoma.mimics
    assert len(lymphoma.mimics) >= 4


def test_stem_variants_follow_the_seed():
    item = sample(mask_facts=mask())
    stems = {seed: [q.stem for q in closed_questions(item, None, None, MIMICS, seed)]
             for seed in range(6)}
    assert stems[0] == [q.stem for q in closed_questions(item, None, None, MIMICS, 0)]
    assert len({tuple(value) for value in stems.values()}) > 1
    assert all(re.search(r"\?$", stem) for value in stems.values() for stem in value)


def test_sample_replace_keeps_questions_deterministic():
    item = sample(mask_facts=mask())
    moved = replace(item, slice_id=99)
    first = closed_questions(item, None, None, MIMICS, 3)
    second = closed_questions(moved, None, None, MIMICS, 3)
    assert [q.stem for q in first] == [q.stem for q in second]
