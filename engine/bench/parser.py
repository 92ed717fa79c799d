"""Deterministic extraction of the chosen option letter from a model's raw output.

The rules run in a fixed order and the first that fires decides. The result stores which
rule fired, and an output no rule can read is unparsed, with the reason as its rule. The parser
never guesses, and it never reads a refusal as the rejection option.

1. ``whole-letter``: the output is one letter, ignoring case, spaces and punctuation.
2. ``marker``: "Answer: X", "Final: X", "answer is X" or ``\\boxed{X}``. The last one wins.
3. ``leading-letter``: the output starts with "X.", "X)", "(X)" or "X:" (and no other line
   starts with a different letter that way, as in an echoed option list).
4. ``option-text``: the output equals one option's text after normalising case, spaces,
   underscores, hyphens and surrounding punctuation ("None of the above" gives E when E is
   an option).
5. ``standalone-letter``: exactly one distinct standalone capital option letter, not
   negated ("not B") and not the article of "A large mass".

A letter that is not among the question's options is ``unparsed-invalid-letter``. Two
different letters, or an output equal to two options' texts, are ``unparsed-ambiguous``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Mapping

from engine.bench.questions import normalise_option_text

# Stored with each run: a change to the rules below must change this version.
PARSER_VERSION = "1"

WHOLE_LETTER = "whole-letter"
MARKER = "marker"
LEADING_LETTER = "leading-letter"
OPTION_TEXT = "option-text"
STANDALONE_LETTER = "standalone-letter"
# Letter-probability scoring mode: the option letter with the highest probability.
LETTER_PROBABILITY = "letter-probability"
UNPARSED_EMPTY = "unparsed-empty"
UNPARSED_INVALID = "unparsed-invalid-letter"
UNPARSED_AMBIGUOUS = "unparsed-ambiguous"
UNPARSED_REFUSAL = "unparsed-refusal"
UNPARSED_NO_LETTER = "unparsed-no-letter"

PARSED_RULES = (WHOLE_LETTER, MARKER, LEADING_LETTER, OPTION_TEXT, STANDALONE_LETTER,
                LETTER_PROBABILITY)
UNPARSED_RULES = (UNPARSED_EMPTY, UNPARSED_INVALID, UNPARSED_AMBIGUOUS, UNPARSED_REFUSAL,
                  UNPARSED_NO_LETTER)

# Letters that look like an answer even when the question does not offer them (C on a
# two-option question), so that they make the output invalid instead of being ignored.
_ANSWER_LIKE_LETTERS = frozenset("ABCDE")

_THINK_BLOCK = re.compile(r"<think>.*?</think>", re.IGNORECASE | re.DOTALL)
_THINK_CLOSE = re.compile(r"</think>", re.IGNORECASE)
_THINK_OPEN = re.compile(r"<think>", re.IGNORECASE)

_WHOLE = re.compile(r"[\W_]*([A-Za-z])[\W_]*")

# A letter is part of a word when a letter, digit, apostrophe, underscore, plus or slash
# touches it ("CT", "T1+C", "A/B"), or a hyphen or an abbreviation's full stop joins it to
# a word ("B-cell", "E.g.").
_NOT_AFTER = r"(?<![A-Za-z0-9_'’+/-])(?<![A-Za-z]\.)"
_NOT_BEFORE = r"(?![A-Za-z0-9_'’+/]|[-.][A-Za-z0-9])"

_MARKER_WORDS = re.compile(
    r"\b(?:answer|final)\b[\s*_]*(?:[:：]|\bis\b[\s*_]*[:：]?)[\s*_]*"
    r"(?:(?:option|choice)\s+)?[(\[]?[\s*_]*(?P<letter>[A-Za-z])" + _NOT_BEFORE,
    re.IGNORECASE,
)
_BOXED = re.compile(r"\\boxed\s*\{\s*(?:\\text(?:bf)?\s*\{\s*)?(?P<letter>[A-Za-z])\s*\}")
# "Answer: A or B" names two letters: such a marker is a hedge, not an answer.
_HEDGE = re.compile(r"[)\]*]*\s*(?:,|/|\bor\b|\band\b)\s*\(?[A-E]\b")

_LEADING = re.compile(
    r"[\s*_#>]*(?:\((?P<paren>[A-Za-z])\)(?![A-Za-z0-9])|(?P<plain>[A-Za-z])[.):](?=[\s*]|$))"
)

# Any line in the leading form: an output that lists several such lines echoes the options.
_LEADING_ANY_LINE = re.compile(
    r"^[ \t*_#>]*(?:\((?P<paren>[A-Za-z])\)(?![A-Za-z0-9])|(?P<plain>[A-Za-z])[.):](?=[\s*]|$))",
    re.MULTILINE,
)

_STANDALONE = re.compile(_NOT_AFTER + r"([A-Z])" + _NOT_BEFORE)

# A capital A (or any lower-case letter) followed by a lower-case word is prose, as in
# "A large mass" or "a glioma", unless the word joins or comments on letters ("A or B",
# "A is correct").
_PROSE_AFTER = re.compile(
    r"[ \t]+(?!(?:or|and|nor|vs|versus|is|was|seems|appears|fits|best|matches)\b)[a-z]"
)

# "not B", "rather than (C)": the letter is named but rejected.
_NEGATION = re.compile(
    r"\b(?:not|isn't|never|except|excluding|rather than|instead of)\s+"
    r"(?:(?:option|choice)\s+)?\(?$",
    re.IGNORECASE,
)
_NEGATION_WINDOW = 30

_REFUSAL = re.compile(
    r"\b(?:sorry|apologi[sz]e|cannot|can ?not|can't|unable to|not able to|won't|will not|"
    r"not possible to|impossible to|insufficient|as an ai|not a (?:doctor|radiologist)|"
    r"consult a)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class ParseResult:
    """The chosen letter (None when unparsed) and the rule that decided."""

    letter: str | None
    rule: str

    @property
    def parsed(self) -> bool:
        return self.letter is not None


def strip_thinking(output: str) -> str:
    """Remove ``<think>...</think>`` blocks. Text before a lone closing tag is thinking too
    (the template opened the block), and an unclosed block runs to the end of the output."""
    text = _THINK_BLOCK.sub(" ", output)
    closing = list(_THINK_CLOSE.finditer(text))
    if closing:
        text = text[closing[-1].end():]
    opening = _THINK_OPEN.search(text)
    if opening:
        text = text[:opening.start()]
    return text


def parse_answer(output: str | None, options: Mapping[str, str]) -> ParseResult:
    """Return the option letter chosen in ``output`` for a question with ``options``
    (ordered ``{letter: text}``, exactly the letters the prompt offered)."""
    text = strip_thinking(output or "").strip()
    if not text:
        return ParseResult(None, UNPARSED_EMPTY)

    for rule in (_whole_letter, _marker, _leading_letter, _option_text, _standalone_letter):
        result = rule(text, options)
        if result is not None:
            return result

    if _REFUSAL.search(text):
        return ParseResult(None, UNPARSED_REFUSAL)
    return ParseResult(None, UNPARSED_NO_LETTER)


def letter_from_probabilities(probabilities: Mapping[str, float],
                              options: Mapping[str, str]) -> ParseResult:
    """Return the option letter with the highest probability (ties go to the earlier
    letter), for the letter-probability scoring mode.

    Raises ValueError when a letter of ``options`` has no probability or one is not finite.
    """
    best: str | None = None
    for letter in options:
        value = probabilities.get(letter)
        if value is None or not math.isfinite(value):
            raise ValueError(f"letter {letter} has probability {value!r}; every option letter "
                             "needs a finite probability")
        if best is None or value > probabilities[best]:
            best = letter
    if best is None:
        return ParseResult(None, UNPARSED_EMPTY)
    return ParseResult(best, LETTER_PROBABILITY)


def _checked(letter: str, rule: str, options: Mapping[str, str]) -> ParseResult:
    letter = letter.upper()
    if letter in options:
        return ParseResult(letter, rule)
    return ParseResult(None, UNPARSED_INVALID)


def _is_prose(letter: str, text: str, end: int) -> bool:
    return (letter == "A" or letter.islower()) and _PROSE_AFTER.match(text, end) is not None


def _whole_letter(text: str, options: Mapping[str, str]) -> ParseResult | None:
    match = _WHOLE.fullmatch(text)
    return _checked(match.group(1), WHOLE_LETTER, options) if match else None


def _marker(text: str, options: Mapping[str, str]) -> ParseResult | None:
    last: tuple[int, str] | None = None
    for match in _MARKER_WORDS.finditer(text):
        letter = match.group("letter")
        if _is_prose(letter, text, match.end()) or _HEDGE.match(text, match.end()):
            continue
        if last is None or match.start() > last[0]:
            last = (match.start(), letter)
    for match in _BOXED.finditer(text):
        if last is None or match.start() > last[0]:
            last = (match.start(), match.group("letter"))
    return _checked(last[1], MARKER, options) if last else None


def _leading_letter(text: str, options: Mapping[str, str]) -> ParseResult | None:
    match = _LEADING.match(text)
    if not match:
        return None
    letter = match.group("paren") or match.group("plain")
    listed = {(line.group("paren") or line.group("plain")).upper()
              for line in _LEADING_ANY_LINE.finditer(text)}
    if len(listed) > 1:
        return ParseResult(None, UNPARSED_AMBIGUOUS)
    return _checked(letter, LEADING_LETTER, options)


def _option_text(text: str, options: Mapping[str, str]) -> ParseResult | None:
    wanted = normalise_option_text(text)
    matches = [letter for letter, option in options.items()
               if normalise_option_text(option) == wanted]
    if len(matches) > 1:
        return ParseResult(None, UNPARSED_AMBIGUOUS)
    return ParseResult(matches[0], OPTION_TEXT) if matches else None


def _standalone_letter(text: str, options: Mapping[str, str]) -> ParseResult | None:
    answer_like = _ANSWER_LIKE_LETTERS.union(options)
    found: set[str] = set()
    negated: set[str] = set()
    for match in _STANDALONE.finditer(text):
        letter = match.group(1)
        if letter not in answer_like or _is_prose(letter, text, match.end()):
            continue
        found.add(letter)
        before = text[max(0, match.start() - _NEGATION_WINDOW):match.start()]
        if _NEGATION.search(before):
            negated.add(letter)
    if not found:
        return None
    if len(found) > 1:
        return ParseResult(None, UNPARSED_AMBIGUOUS)
    # A letter that is only ever named to be rejected ("it is not B") is no answer.
    letter = found.pop()
    if letter in negated:
        return ParseResult(None, UNPARSED_NO_LETTER)
    return _checked(letter, STANDALONE_LETTER, options)
