"""Turning an answerer's reply into the values of an ``answer`` row.

Closed questions get their letter from the answerer's own decision (baselines), from the
parser on the raw output (generate mode) or from the letter probabilities (letter-prob
mode), and are marked correct or not. Open questions get their scores: keyword recall
(substring and whole word), ROUGE-L F and sentence BLEU. Run metrics recompute corpus BLEU
and all means from the stored texts; the stored scores serve per-answer review.
"""

from __future__ import annotations

from typing import Any

from rouge_score import rouge_scorer
from sacrebleu.metrics import BLEU

from engine.bench.answerer import ModelAnswer
from engine.bench.open_metrics import keyword_recall
from engine.bench.parser import letter_from_probabilities, parse_answer
from engine.bench.plan import CLOSED, SessionQuestion

GENERATE = "generate"
LETTER_PROB = "letter-prob"
MODES = (GENERATE, LETTER_PROB)

# Reasons stored in ``answer.skipped`` for a question that was not asked.
SKIPPED_IMAGE_MISSING = "image-missing"
SKIPPED_IMAGE_NOT_FOUND = "image-not-found"

# Parse rules of letter-prob answers that carry no usable probabilities.
UNPARSED_NO_PROBABILITIES = "unparsed-no-probabilities"
UNPARSED_BAD_PROBABILITIES = "unparsed-bad-probabilities"


class OpenScorer:
    """Scores open answers; builds the ROUGE and BLEU scorers once per session."""

    def __init__(self) -> None:
        self._rouge = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
        # effective_order keeps short answers from scoring 0 only for a missing 4-gram.
        self._bleu = BLEU(effective_order=True)

    def scores(self, question: SessionQuestion, text: str) -> dict[str, float | None]:
        return {
            "keyword_recall_substring": keyword_recall(text, question.keywords),
            "keyword_recall_word": keyword_recall(text, question.keywords, whole_word=True),
            "rouge_l": self._rouge.score(question.reference or "", text)["rougeL"].fmeasure,
            "bleu": self._bleu.sentence_score(text, [question.reference or ""]).score,
        }


def answer_values(question: SessionQuestion, answer: ModelAnswer, mode: str,
                  scorer: OpenScorer) -> dict[str, Any]:
    """Return the ``answer`` column values for ``answer`` to ``question``.

    Raises ValueError when an answerer that decides itself chose a letter the question
    does not offer, which is a bug in that answerer.
    """
    values: dict[str, Any] = {
        "question_id": question.question_id, "raw_output": answer.raw_output,
        "reasoning": answer.reasoning, "letter_probs": answer.letter_probs,
        "letter_mass": answer.letter_mass, "latency_ms": answer.latency_ms,
        "prompt_tokens": answer.prompt_tokens, "completion_tokens": answer.completion_tokens,
        "provenance": dict(answer.provenance),
    }
    if question.kind == CLOSED:
        letter, rule = _closed_letter(question, answer, mode)
        values.update(parsed_letter=letter, parse_rule=rule,
                      is_correct=letter == question.closed.gold)
    else:
        values.update(parse_rule=answer.rule,
                      scores=scorer.scores(question, answer.raw_output or ""))
    return values


def skipped_values(question: SessionQuestion, reason: str) -> dict[str, Any]:
    """Return the values of the row that records ``question`` as skipped for ``reason``."""
    values: dict[str, Any] = {"question_id": question.question_id, "skipped": reason,
                              "provenance": {}}
    if question.kind == CLOSED:
        values["is_correct"] = False
    return values


def _closed_letter(question: SessionQuestion, answer: ModelAnswer,
                   mode: str) -> tuple[str | None, str]:
    options = question.options
    if answer.rule is not None:
        if answer.letter is not None and answer.letter not in options:
            raise ValueError(f"the answerer chose {answer.letter!r} for question "
                             f"{question.question_id}, which offers only {', '.join(options)}")
        return answer.letter, answer.rule
    if mode == LETTER_PROB:
        if not answer.letter_probs:
            return None, UNPARSED_NO_PROBABILITIES
        try:
            parsed = letter_from_probabilities(answer.letter_probs, options)
        except ValueError:
            return None, UNPARSED_BAD_PROBABILITIES
        return parsed.letter, parsed.rule
    parsed = parse_answer(answer.raw_output, options)
    return parsed.letter, parsed.rule
