"""Model-free baselines on hand-made questions, and the semantics oracle on the released
closed file with labels taken from its own answers."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from engine.bench.baselines import (ABSTAIN_AMBIGUOUS, ABSTAIN_NO_MATCH, ABSTAIN_NO_OPTION,
                                    ABSTAIN_NO_SEMANTICS, ABSTAIN_TYPE, ALWAYS_E, BASELINES,
                                    CHOSEN, MAJORITY, ORACLE_MATCH, ORACLE_REJECTION, RANDOM,
                                    SEMANTIC_TYPES, SEMANTICS_ORACLE, answer_always_e,
                                    answer_majority, answer_random, answer_semantics_oracle,
                                    gold_letter_counts, make_baseline)
from engine.bench.questions import ClosedQuestion, load_closed_benchmark
from engine.bench.settings import STANDARD, build_setting
from engine.errors import InvalidInputError

NOTA = "None of the above"


def question(item_id=1, q_index=0, question_type="size", options=None, gold="B",
             is_trap=False) -> ClosedQuestion:
    if options is None:
        options = {"A": "Small", "B": "Medium", "C": "Large/Extensive", "D": "Diffuse", "E": NOTA}
    return ClosedQuestion(item_id=item_id, q_index=q_index, question_type=question_type,
                          stem="?", options=options, gold=gold, is_trap=is_trap)


BINARY = {"A": "Healthy", "B": "Abnormal"}


def test_random_uses_own_letters():
    binary = [question(item_id=i, question_type="diagnosis", options=BINARY, gold="A")
              for i in range(200)]
    letters = Counter(answer_random(q, seed=0).letter for q in binary)
    assert set(letters) == {"A", "B"}
    five = [question(item_id=i) for i in range(2000)]
    counts = Counter(answer_random(q, seed=0).letter for q in five)
    assert set(counts) == set("ABCDE")
    # Uniform over five letters: 400 expected per letter, within five standard deviations.
    assert all(300 < count < 500 for count in counts.values())
    assert answer_random(five[0], seed=0).rule == CHOSEN


def test_random_is_seeded_per_question():
    questions = [question(item_id=i, q_index=i % 3) for i in range(50)]
    first = [answer_random(q, seed=7).letter for q in questions]
    shuffled = questions[:]
    random.Random(1).shuffle(shuffled)
    by_key = {q.key: answer_random(q, seed=7).letter for q in shuffled}
    assert [by_key[q.key] for q in questions] == first
    assert [answer_random(q, seed=8).letter for q in questions] != first


def test_always_e():
    assert answer_always_e(question()).letter == "E"
    binary = answer_always_e(question(options=BINARY, gold="A"))
    assert binary.letter is None
    assert binary.rule == ABSTAIN_NO_OPTION
    four = {"A": "Small", "B": "Medium", "C": "Large", "D": "Diffuse"}
    assert answer_always_e(question(options=four)).letter is None


def test_majority_letter():
    questions = [question(gold="B"), question(gold="B"), question(gold="E"),
                 question(gold="E"), question(gold="E"), question(gold="A")]
    counts = gold_letter_counts(questions)
    assert counts == {"E": 3, "B": 2, "A": 1}
    assert answer_majority(question(), counts).letter == "E"
    # Without E the question gets its own most frequent gold letter.
    assert answer_majority(question(options=BINARY, gold="A"), counts).letter == "B"
    # A tie goes to the earlier letter.
    assert answer_majority(question(options=BINARY, gold="A"), {"A": 2, "B": 2}).letter == "A"
    assert answer_majority(question(options=BINARY, gold="A"), {}).letter == "A"


def test_majority_counts_the_setting():
    questions = [question(gold="E", is_trap=True) for _ in range(3)]
    questions += [question(gold="C"), question(gold="D"), question(gold="D")]
    rejection_aware = make_baseline(MAJORITY, questions)
    assert rejection_aware(question()).letter == "E"
    standard = build_setting(questions, STANDARD)
    standard_answer = make_baseline(MAJORITY, standard)
    assert standard_answer(standard[0]).letter == "D"


@pytest.mark.parametrize("label, letter, rule", [
    ("Large/Extensive", "C", ORACLE_MATCH),
    ("large or extensive", "C", ORACLE_MATCH),
    ("MEDIUM", "B", ORACLE_MATCH),
    # "Small" alone is a distractor, so the removed "Small/Focal" makes the answer E.
    ("Small/Focal", "E", ORACLE_REJECTION),
])
def test_oracle_matches_size(label, letter, rule):
    answer = answer_semantics_oracle(question(), {"size": label})
    assert answer.letter == letter
    assert answer.rule == rule


def test_oracle_location_and_spread():
    location = question(question_type="location", options={
        "A": "Left side of the image", "B": "Center of the image", "C": "Posterior fossa",
        "D": "Upper-Right Region", "E": NOTA})
    labels = {"location": "Center of the Image", "spread": "Solitary Lesion"}
    assert answer_semantics_oracle(location, labels).letter == "B"
    assert answer_semantics_oracle(location, {"location": "Upper-right region"}).letter == "D"
    spread = question(question_type="spread", options={
        "A": "Multiple lesions", "B": "Solitary lesion", "C": "Diffuse infiltrative",
        "D": "No lesion", "E": NOTA})
    assert answer_semantics_oracle(spread, labels).letter == "B"


def test_oracle_abstains():
    cases = [
        (question(question_type="diagnosis"), {"size": "Medium"}, ABSTAIN_TYPE),
        (question(), None, ABSTAIN_NO_SEMANTICS),
        (question(), {"shape": "Lobulated"}, ABSTAIN_NO_SEMANTICS),
        (question(options={"A": "Small", "B": "Medium", "C": "Large", "D": "Diffuse"}),
         {"size": "Large/Extensive"}, ABSTAIN_NO_MATCH),
        (question(options={"A": "Medium", "B": "medium", "C": "Large", "D": "Small", "E": NOTA}),
         {"size": "Medium"}, ABSTAIN_AMBIGUOUS),
    ]
    for q, labels, rule in cases:
        answer = answer_semantics_oracle(q, labels)
        assert answer.letter is None, rule
        assert answer.rule == rule


def test_make_baseline_names():
    questions = [question()]
    assert BASELINES == (RANDOM, ALWAYS_E, MAJORITY, SEMANTICS_ORACLE)
    for name in BASELINES:
        answer = make_baseline(name, questions, seed=1, semantics={1: {"size": "Medium"}})
        assert answer(questions[0]).letter in ("A", "B", "C", "D", "E")
    assert make_baseline(SEMANTICS_ORACLE, questions, semantics={1: {"size": "Medium"}})(
        questions[0]).letter == "B"
    with pytest.raises(InvalidInputError, match="unknown baseline 'baseline:gpt'"):
        make_baseline("baseline:gpt", questions)


def test_oracle_with_true_labels_on_released_file(shared_data):
    # Labels from the benchmark's own answers: the gold text, or for a trap item the text of
    # the removed option. The oracle must then answer every semantic question correctly,
    # choosing E exactly on the trap items, and abstain on the rest.
    questions = load_closed_benchmark(shared_data / "mm-neuroonco_benchmark_closed_v1.0.json")
    labels: dict[int, dict[str, str]] = {}
    for q in questions:
        if q.question_type in SEMANTIC_TYPES:
            text = q.original_answer if q.is_trap else q.options[q.gold]
            labels.setdefault(q.item_id, {})[q.question_type] = text
    oracle = make_baseline(SEMANTICS_ORACLE, questions, semantics=labels)

    outcomes = Counter()
    for q in questions:
        answer = oracle(q)
        outcomes[(q.question_type in SEMANTIC_TYPES, answer.rule, answer.letter == q.gold)] += 1
    traps = sum(q.is_trap for q in questions if q.question_type in SEMANTIC_TYPES)
    assert traps == 55 + 55 + 67 + 62
    assert outcomes == {
        (True, ORACLE_MATCH, True): 4 * 307 - traps,
        (True, ORACLE_REJECTION, True): traps,
        (False, ABSTAIN_TYPE, False): 1000 + 962,
    }


@pytest.mark.parametrize("question_type, label, option", [
    # Labels as the mask rules write them, options as the benchmark spells them.
    ("size", "Small/Focal", "Small and focal"),
    ("size", "Large/Extensive", "Large or extensive"),
    ("shape", "Round/Oval", "Round or oval"),
    ("shape", "Irregular/Spiculated", "Irregular/spiculated"),
    ("spread", "Dominant Core with Satellites", "Dominant core with satellites"),
    ("spread", "Scattered/Multifocal", "Scattered or multifocal"),
    ("location", "Upper-Left Region", "Upper-left region"),
    ("location", "Center of the Image", "Center of the image"),
])
def test_oracle_label_spellings(question_type, label, option):
    options = {"A": "Something else", "B": option, "C": "Other", "D": "No lesion", "E": NOTA}
    answer = answer_semantics_oracle(question(question_type=question_type, options=options),
                                     {question_type: label})
    assert answer.letter == "B"
    assert answer.rule == ORACLE_MATCH


def test_oracle_rule_names_fit_the_answer_column():
    # Answer.parse_rule is a String(32) column.
    rules = (CHOSEN, ORACLE_MATCH, ORACLE_REJECTION, ABSTAIN_NO_OPTION, ABSTAIN_TYPE,
             ABSTAIN_NO_SEMANTICS, ABSTAIN_NO_MATCH, ABSTAIN_AMBIGUOUS)
    assert all(len(rule) <= 32 for rule in rules)
