"""The deterministic letter parser: every rule, every unparsed reason, and the defects of
the published evaluation scripts that it must not repeat."""

from __future__ import annotations

import pytest

from engine.bench.parser import (LEADING_LETTER, LETTER_PROBABILITY, MARKER, OPTION_TEXT,
                                 PARSED_RULES, STANDALONE_LETTER, UNPARSED_AMBIGUOUS,
                                 UNPARSED_EMPTY, UNPARSED_INVALID, UNPARSED_NO_LETTER,
                                 UNPARSED_REFUSAL, UNPARSED_RULES, WHOLE_LETTER,
                                 letter_from_probabilities, parse_answer, strip_thinking)

FIVE = {"A": "glioma", "B": "meningioma", "C": "pituitary", "D": "neuronal_tumor",
        "E": "None of the above"}
STANDARD = {"A": "glioma", "B": "meningioma", "C": "pituitary", "D": "neuronal_tumor"}
BINARY = {"A": "Healthy", "B": "Abnormal"}
DUPLICATE = {"A": "schwannoma", "B": "Schwannoma", "C": "meningioma", "D": "metastasis",
             "E": "None of the above"}


def check(output, options, letter, rule):
    result = parse_answer(output, options)
    assert result.rule == rule, f"{output!r}: rule {result.rule}"
    assert result.letter == letter, f"{output!r}: letter {result.letter}"
    assert result.parsed == (letter is not None)


@pytest.mark.parametrize("output, letter", [
    ("B", "B"),
    ("  c  ", "C"),
    ("d.", "D"),
    ("**E**", "E"),
    ("(a)", "A"),
    ('"B"', "B"),
    ("[C]\n", "C"),
])
def test_whole_letter(output, letter):
    check(output, FIVE, letter, WHOLE_LETTER)


@pytest.mark.parametrize("output, options", [
    ("C", BINARY),        # C on a two-option question
    ("e", STANDARD),      # E after the standard setting removed it
    ("I", FIVE),
])
def test_whole_letter_not_an_option(output, options):
    check(output, options, None, UNPARSED_INVALID)


@pytest.mark.parametrize("output, letter", [
    ("Answer: B", "B"),
    ("answer:c", "C"),
    ("Final: D", "D"),
    ("The answer is C.", "C"),
    ("The correct answer is (B) meningioma.", "B"),
    ("**Final Answer:** D", "D"),
    ("After review, the answer is option E", "E"),
    ("The answer is B because the mass is dural based.", "B"),
    ("Answer: A is the best fit", "A"),
    ("\\boxed{A}", "A"),
    ("so we get \\boxed{\\text{e}}", "E"),
    ("Answer: A. On reflection, the final answer: C", "C"),      # the last marker wins
    ("Answer: B\nExplanation: A and D are less likely.", "B"),   # marker beats other letters
    ("Answer: D ... \\boxed{B}", "B"),
])
def test_marker(output, letter):
    check(output, FIVE, letter, MARKER)


def test_marker_letter_not_an_option():
    check("Answer: C", BINARY, None, UNPARSED_INVALID)
    # The last marker decides even when an earlier one named a valid letter.
    check("Answer: A. Final answer: C", BINARY, None, UNPARSED_INVALID)


@pytest.mark.parametrize("output, rule", [
    ("Answer: A or B", UNPARSED_AMBIGUOUS),          # a hedge names two letters
    ("Answer: A large irregular mass", UNPARSED_NO_LETTER),  # "A" is an article
    ("The answer is a glioma", UNPARSED_NO_LETTER),
    ("The answer is not B", UNPARSED_NO_LETTER),
])
def test_marker_words_without_an_answer(output, rule):
    check(output, FIVE, None, rule)


@pytest.mark.parametrize("output, letter", [
    ("A. glioma", "A"),
    ("B) meningioma", "B"),
    ("(C) pituitary adenoma", "C"),
    ("D: neuronal tumour", "D"),
    ("**B.** meningioma, given the dural tail", "B"),
    ("c) pituitary", "C"),
    ("E. None of the above, since A-D do not fit", "E"),
])
def test_leading_letter(output, letter):
    check(output, FIVE, letter, LEADING_LETTER)


def test_echoed_option_list():
    # A model that repeats the option list names every letter in the leading form.
    check("A. glioma\nB. meningioma\nC. pit", FIVE, None, UNPARSED_AMBIGUOUS)
    check("B. meningioma\nThe dural tail supports B.", FIVE, "B", LEADING_LETTER)
    check("A. glioma\nB. meningioma\nAnswer: B", FIVE, "B", MARKER)


def test_leading_letter_not_an_option():
    check("C) glioma", BINARY, None, UNPARSED_INVALID)


def test_abbreviation_is_not_a_leading_letter():
    check("E.g. a glioma", FIVE, None, UNPARSED_NO_LETTER)


@pytest.mark.parametrize("output, options, letter", [
    ("Meningioma", FIVE, "B"),
    ("  neuronal   tumor. ", FIVE, "D"),
    ("None of the above", FIVE, "E"),
    ("none of the above.", FIVE, "E"),
    ("abnormal", BINARY, "B"),
])
def test_option_text(output, options, letter):
    check(output, options, letter, OPTION_TEXT)


def test_rejection_text_without_rejection_option():
    check("None of the above", STANDARD, None, UNPARSED_NO_LETTER)
    check("None of the above", BINARY, None, UNPARSED_NO_LETTER)


def test_option_text_matching_two_options():
    check("schwannoma", DUPLICATE, None, UNPARSED_AMBIGUOUS)


@pytest.mark.parametrize("output, letter", [
    ("I think it is B", "B"),
    ("CT and MRI findings favour option D", "D"),
    ("Considering the enhancement pattern, B", "B"),
    ("The sellar mass suggests C, pituitary.", "C"),
    ("It is B; B fits best.", "B"),
    ("A is correct", "A"),
])
def test_standalone_letter(output, letter):
    check(output, FIVE, letter, STANDALONE_LETTER)


def test_standalone_letter_not_an_option():
    check("I would say C here", BINARY, None, UNPARSED_INVALID)


@pytest.mark.parametrize("output", [
    "B or C",
    "Either A or D",
    "C, not B",
    "Option C fits best; A is unlikely.",
])
def test_two_letters_without_marker(output):
    check(output, FIVE, None, UNPARSED_AMBIGUOUS)


@pytest.mark.parametrize("output", [
    "I think this is a meningioma",    # published fallback: last letter inside words
    "CT",                              # published fallback reads C
    "T1+C",
    "B-cell lymphoma",
    "A large lesion in the centre",
    "It is not B",
    "Glioblastoma with necrosis",
    "THE LESION IS IN THE CEREBELLUM",  # upper-case prose has no standalone letter
])
def test_no_letter(output):
    check(output, FIVE, None, UNPARSED_NO_LETTER)


@pytest.mark.parametrize("output", [
    "I'm sorry, but I cannot provide a diagnosis from this image.",
    "I am unable to determine this; none of these seem right.",
    "As an AI, I can't interpret medical images. Please consult a radiologist.",
])
def test_refusal_is_unparsed_not_rejection(output):
    check(output, FIVE, None, UNPARSED_REFUSAL)


@pytest.mark.parametrize("output", [None, "", "   \n", "<think>B</think>", "<think>it could be B"])
def test_empty(output):
    check(output, FIVE, None, UNPARSED_EMPTY)


def test_thinking_block_is_ignored():
    check("<think>The answer is A.</think>\nB", FIVE, "B", WHOLE_LETTER)
    check("<THINK>Answer: A</THINK> Final answer: C", FIVE, "C", MARKER)
    # The chat template opened the block, so only its closing tag is in the output.
    check("Between A and D... D fits.</think>\n\nD", FIVE, "D", WHOLE_LETTER)
    check("<think>A?</think> answer later <think>B?</think> C", FIVE, "C", STANDALONE_LETTER)


def test_strip_thinking():
    assert strip_thinking("<think>x</think>y").strip() == "y"
    assert strip_thinking("x</think>y") == "y"
    assert strip_thinking("y<think>unfinished") == "y"
    assert strip_thinking("plain") == "plain"


def test_same_output_same_result():
    outputs = ["B", "Answer: C", "I think B", "B or C", "None of the above", "x"]
    first = [parse_answer(output, FIVE) for output in outputs]
    second = [parse_answer(output, FIVE) for output in outputs]
    assert first == second


def test_rule_names_fit_the_answer_column():
    # Answer.parse_rule is a String(32) column.
    for rule in PARSED_RULES + UNPARSED_RULES:
        assert len(rule) <= 32
    assert set(PARSED_RULES).isdisjoint(UNPARSED_RULES)


def test_letter_from_probabilities():
    probabilities = {"A": 0.1, "B": 0.5, "C": 0.2, "D": 0.1, "E": 0.1}
    result = letter_from_probabilities(probabilities, FIVE)
    assert result.letter == "B"
    assert result.rule == LETTER_PROBABILITY
    # Only the question's own letters compete, and a tie goes to the earlier letter.
    assert letter_from_probabilities(probabilities, BINARY).letter == "B"
    assert letter_from_probabilities({"A": 0.4, "B": 0.4, "C": 0.9}, BINARY).letter == "A"
    with pytest.raises(ValueError, match="letter E has probability None"):
        letter_from_probabilities({"A": 0.5, "B": 0.5, "C": 0, "D": 0}, FIVE)
    with pytest.raises(ValueError, match="letter B has probability nan"):
        letter_from_probabilities({"A": 0.5, "B": float("nan")}, BINARY)
