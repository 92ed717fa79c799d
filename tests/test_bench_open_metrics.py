"""Open-question metrics: keyword recall (both rules), ROUGE-L and BLEU, on crafted answers
and on the released open benchmark's reference answers."""

from __future__ import annotations

import json

import pytest
from sacrebleu.metrics import BLEU

from engine.bench.open_metrics import OpenRecord, compute_open_metrics, keyword_recall

VOCABULARY = ("center", "glioma", "irregular", "large", "left", "lobulated", "lower", "medium",
              "meningioma", "multifocal", "oval", "pituitary", "right", "round", "small",
              "solitary", "spiculated", "tumor", "upper")


def test_keyword_recall_rules():
    # "surrounding" contains "round" as a substring but not as a word.
    text = "Surrounding oedema around a multifocal lesion."
    assert keyword_recall(text, ["round", "multifocal"]) == 1.0
    assert keyword_recall(text, ["round", "multifocal"], whole_word=True) == 0.5
    # "centrally" contains neither "center" as a substring nor as a word.
    text = "A centrally located, not perfectly round, irregular mass."
    keywords = ["round", "center", "irregular", "solitary"]
    assert keyword_recall(text, keywords) == 0.5
    assert keyword_recall(text, keywords, whole_word=True) == 0.5
    assert keyword_recall("GLIOMA", ["glioma"], whole_word=True) == 1.0
    assert keyword_recall("anything", []) is None


def test_open_metrics_hand_computed():
    records = [
        OpenRecord("1_q1", "Detail", "the tumor is large", ("large", "tumor"),
                   "the tumor is small"),
        OpenRecord("1_q2", "Location", "in the center of the image", (),
                   "in the center of the image"),
        OpenRecord("2_q1", "Detail", "a round solitary tumor", ("round", "solitary", "tumor"),
                   None),
    ]
    metrics = compute_open_metrics(records, seed=0, resamples=200)

    assert metrics["total"] == 3
    assert metrics["missing"] == 1
    # Keyword recall leaves out the question without keywords: (1/2 + 0/3) / 2.
    assert metrics["keyword_recall_substring"]["total"] == 2
    assert metrics["keyword_recall_substring"]["mean"] == pytest.approx(0.25)
    assert metrics["keyword_recall_word"]["mean"] == pytest.approx(0.25)
    # ROUGE-L F: "the tumor is" is the longest common subsequence of 4 and 4 tokens (0.75),
    # the identical answer scores 1, the missing one 0.
    assert metrics["rouge_l"]["mean"] == pytest.approx((0.75 + 1.0 + 0.0) / 3)
    assert metrics["rouge_l"]["total"] == 3

    by_type = metrics["by_type"]
    assert list(by_type) == ["Detail", "Location"]
    assert by_type["Location"]["bleu"]["score"] == pytest.approx(100.0)
    assert by_type["Location"]["keyword_recall_substring"]["mean"] is None
    assert by_type["Detail"]["rouge_l"]["mean"] == pytest.approx(0.375)


def test_bleu_matches_sacrebleu_corpus_score():
    references = ["the tumor is large and lobulated", "a small round lesion in the left lobe",
                  "no lesion is visible", "medium sized irregular mass"]
    predictions = ["the tumor is large", "a small lesion in the left", "", "irregular mass"]
    records = [OpenRecord(str(i), "Detail", reference, (), prediction)
               for i, (reference, prediction) in enumerate(zip(references, predictions))]
    metrics = compute_open_metrics(records, seed=0, resamples=100)

    expected = BLEU().corpus_score(predictions, [references]).score
    assert metrics["bleu"]["score"] == pytest.approx(expected)
    low, high = metrics["bleu"]["ci95"]
    assert 0.0 <= low <= high <= 100.0


def test_empty_record_list():
    metrics = compute_open_metrics([])
    assert metrics["total"] == 0
    assert metrics["rouge_l"]["mean"] is None
    assert metrics["bleu"]["score"] is None


def test_released_keywords_follow_substring_rule(shared_data):
    # The released eval_keywords are the vocabulary words found as substrings of each
    # reference answer, so the reference itself has substring recall 1.
    document = json.loads((shared_data / "mm-neuroonco_benchmark_open_v1.0.json")
                          .read_text(encoding="utf-8"))
    records = [OpenRecord(pair["question_id"], pair["question_type"], pair["reference_answer"],
                          tuple(pair["eval_keywords"]), pair["reference_answer"])
               for item in document for pair in item["qa_pairs"]]
    assert len(records) == 1215
    for record in records:
        expected = sorted(word for word in VOCABULARY if word in record.reference.lower())
        assert sorted(record.keywords) == expected

    metrics = compute_open_metrics(records, seed=0, resamples=50)
    assert metrics["keyword_recall_substring"]["total"] == 1215 - 83
    assert metrics["keyword_recall_substring"]["mean"] == 1.0
    assert metrics["keyword_recall_word"]["mean"] < 1.0
    assert metrics["rouge_l"]["mean"] == pytest.approx(1.0)
    assert metrics["bleu"]["score"] == pytest.approx(100.0)
