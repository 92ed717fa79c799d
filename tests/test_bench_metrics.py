"""Closed-question metrics on crafted records with hand-computed values, and the bootstrap."""

from __future__ import annotations

import numpy as np
import pytest

from engine.bench.bootstrap import generator, mean_interval, proportion_interval
from engine.bench.metrics import (ANSWERED, MISSING, UNPARSED, ClosedRecord, closed_record,
                                  compute_closed_metrics)
from engine.bench.questions import ClosedQuestion


def record(number, question_type, letters, gold, predicted, outcome=ANSWERED, trap=False,
           tumour_class=None, source=None) -> ClosedRecord:
    return ClosedRecord(item_id=number, q_index=0, question_type=question_type,
                        letters=letters, gold=gold, predicted=predicted, outcome=outcome,
                        is_trap=trap, tumour_class=tumour_class, source=source)


# Eight questions; the comments give each one's part in the hand-computed values below.
CRAFTED = [
    record(1, "diagnosis", "ABCDE", "A", "A", tumour_class="glioma", source="08"),  # correct
    record(2, "diagnosis", "ABCDE", "E", "E", trap=True, tumour_class="glioma",
           source="08"),                                                  # trap, correct
    record(3, "diagnosis", "AB", "B", "A", tumour_class="healthy", source="09"),  # binary, wrong
    record(4, "modality", "ABCDE", "C", "E", tumour_class="glioma",
           source="16"),                                                  # false rejection
    record(5, "modality", "ABCDE", "E", "B", trap=True, tumour_class="meningioma",
           source="16"),                                                  # trap, wrong
    record(6, "size", "ABCDE", "D", None, UNPARSED, tumour_class="meningioma", source="16"),
    record(7, "size", "ABCDE", "B", None, MISSING, tumour_class="glioma", source="16"),
    record(8, "shape", "ABCDE", "B", "B"),                                # no class or source
]


@pytest.fixture(scope="module")
def metrics():
    return compute_closed_metrics(CRAFTED, seed=3, resamples=500)


def accuracy_of(group):
    return group["correct"], group["total"], group["accuracy"]


def test_overall_and_outcomes(metrics):
    assert accuracy_of(metrics["overall"]) == (3, 8, 3 / 8)
    assert metrics["outcomes"] == {"answered": 6, "unparsed": 1, "missing": 1, "skipped": 0}
    assert metrics["unparsed_rate"]["count"] == 1
    assert metrics["unparsed_rate"]["rate"] == 1 / 8


def test_by_type_in_report_order(metrics):
    by_type = metrics["by_type"]
    assert list(by_type) == ["diagnosis", "modality", "size", "shape"]
    assert accuracy_of(by_type["diagnosis"]) == (2, 3, 2 / 3)
    assert accuracy_of(by_type["modality"]) == (0, 2, 0.0)
    assert accuracy_of(by_type["size"]) == (0, 2, 0.0)
    assert accuracy_of(by_type["shape"]) == (1, 1, 1.0)


def test_option_counts_and_traps(metrics):
    assert accuracy_of(metrics["by_option_count"]["2"]) == (0, 1, 0.0)
    assert accuracy_of(metrics["by_option_count"]["5"]) == (3, 7, 3 / 7)
    assert accuracy_of(metrics["trap"]) == (1, 2, 0.5)
    assert accuracy_of(metrics["non_trap"]) == (2, 6, 2 / 6)


def test_false_rejection(metrics):
    # Non-trap questions offering E are numbers 1, 4, 6, 7 and 8, and only 4 chose E.
    rejection = metrics["false_rejection"]
    assert rejection["total"] == 5
    assert rejection["count"] == 1
    assert rejection["rate"] == 0.2


def test_letter_distribution(metrics):
    gold = {letter: stat["count"] for letter, stat in metrics["letters"]["gold"].items()}
    predicted = {key: stat["count"] for key, stat in metrics["letters"]["predicted"].items()}
    assert gold == {"A": 1, "B": 3, "C": 1, "D": 1, "E": 2}
    assert predicted == {"A": 2, "B": 2, "C": 0, "D": 0, "E": 2, "unparsed": 1, "missing": 1,
                         "skipped": 0}
    assert metrics["letters"]["predicted"]["E"]["rate"] == 2 / 8


def test_by_tumour_class_and_source(metrics):
    by_class = {name: accuracy_of(stat)[:2] for name, stat in metrics["by_tumour_class"].items()}
    by_source = {name: accuracy_of(stat)[:2] for name, stat in metrics["by_source"].items()}
    assert by_class == {"glioma": (2, 4), "healthy": (0, 1), "meningioma": (0, 2),
                        "unknown": (1, 1)}
    assert by_source == {"08": (2, 2), "09": (0, 1), "16": (0, 4), "unknown": (1, 1)}


def test_intervals_bracket_the_estimate(metrics):
    groups = [metrics["overall"], metrics["trap"], metrics["non_trap"],
              *metrics["by_type"].values(), *metrics["by_source"].values()]
    for group in groups:
        low, high = group["ci95"]
        assert 0.0 <= low <= group["accuracy"] <= high <= 1.0
    # All-correct and all-wrong groups have no spread.
    assert metrics["by_source"]["08"]["ci95"] == [1.0, 1.0]
    assert metrics["by_source"]["16"]["ci95"] == [0.0, 0.0]
    assert metrics["overall"]["ci95"][0] < metrics["overall"]["ci95"][1]
    assert metrics["bootstrap"]["seed"] == 3
    assert metrics["bootstrap"]["resamples"] == 500


def test_intervals_are_seeded():
    first = compute_closed_metrics(CRAFTED, seed=3, resamples=500)
    again = compute_closed_metrics(list(reversed(CRAFTED)), seed=3, resamples=500)
    assert first == again

    # 300 questions, 170 correct: enough spread for the seed to move the interval.
    many = [record(number, "size", "ABCDE", "A", "A" if number < 170 else "B")
            for number in range(300)]
    seed_one = compute_closed_metrics(many, seed=1, resamples=500)["overall"]["ci95"]
    seed_two = compute_closed_metrics(many, seed=2, resamples=500)["overall"]["ci95"]
    assert seed_one != seed_two
    assert seed_one == compute_closed_metrics(many, seed=1, resamples=500)["overall"]["ci95"]


def test_empty_groups_have_no_value():
    # A standard-setting run: no trap items and no option E.
    metrics = compute_closed_metrics([record(1, "size", "ABCD", "A", "A"),
                                      record(2, "size", "AB", "B", "A")])
    assert metrics["trap"] == {"total": 0, "correct": 0, "accuracy": None, "ci95": None}
    assert metrics["false_rejection"]["total"] == 0
    assert metrics["false_rejection"]["rate"] is None
    assert metrics["false_rejection"]["ci95"] is None
    assert "E" not in metrics["letters"]["gold"]


def test_no_records():
    metrics = compute_closed_metrics([])
    assert metrics["overall"]["total"] == 0
    assert metrics["overall"]["accuracy"] is None
    assert metrics["by_type"] == {}


def test_duplicate_records_rejected():
    with pytest.raises(ValueError, match="two records for item id 1 question 0"):
        compute_closed_metrics([CRAFTED[0], CRAFTED[0]])


@pytest.mark.parametrize("fields, message", [
    (dict(outcome="lost"), "outcome 'lost'"),
    (dict(gold="F"), "gold 'F'"),
    (dict(predicted=None), "exactly when the outcome is answered"),
    (dict(outcome=UNPARSED), "exactly when the outcome is answered"),
    (dict(predicted="C", letters="AB"), "predicted 'C'"),
])
def test_invalid_record(fields, message):
    values = dict(item_id=1, q_index=0, question_type="size", letters="ABCDE", gold="A",
                  predicted="A", outcome=ANSWERED)
    values.update(fields)
    with pytest.raises(ValueError, match=message):
        ClosedRecord(**values)


def test_closed_record_from_question():
    question = ClosedQuestion(item_id=4, q_index=2, question_type="shape", stem="Shape?",
                              options={"A": "Round", "B": "Lobulated", "E": "None of the above"},
                              gold="E", is_trap=True, original_answer="Irregular",
                              image_path="glioma/16_t1/x.png", tumour_class="glioma",
                              source="16")
    built = closed_record(question, "E", ANSWERED)
    assert built.key == (4, 2)
    assert built.letters == "ABE"
    assert built.correct
    assert built.is_trap
    assert (built.tumour_class, built.source) == ("glioma", "16")


def test_binomial_draws_match_resampling():
    # Resampling n outcomes with k successes gives binomial(n, k/n) successes, so the fast
    # interval must agree with explicit resampling of the records.
    outcomes = np.array([1] * 20 + [0] * 30, dtype=float)
    fast = proportion_interval(20, 50, "check", seed=1, resamples=20000)
    rng = generator(2, "explicit")
    explicit = outcomes[rng.integers(0, 50, size=(20000, 50))].mean(axis=1)
    low, high = np.quantile(explicit, [0.025, 0.975])
    assert fast[0] == pytest.approx(low, abs=0.021)
    assert fast[1] == pytest.approx(high, abs=0.021)
    assert mean_interval(outcomes, "check", seed=1, resamples=20000)[0] == pytest.approx(
        low, abs=0.021)
