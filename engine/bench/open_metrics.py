"""Open-question metrics: keyword recall, ROUGE-L (rouge-score) and BLEU (sacrebleu).

Keyword recall is the share of a question's ``eval_keywords`` found in the prediction;
questions with an empty keyword list are left out of it. The substring rule matches the
way the MM-NeuroOnco keywords were derived from the reference answers (case-insensitive
substrings, so "not round" still contains "round"); the whole-word rule needs word
boundaries. A missing prediction scores as an empty answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
from rouge_score import rouge_scorer
from sacrebleu.metrics import BLEU

from engine.bench.bootstrap import (DEFAULT_RESAMPLES, DEFAULT_SEED, mean_interval,
                                    statistic_interval)

BLEU_MAX_ORDER = 4
CONFIG = {
    "keyword_recall": "share of eval_keywords found, case-insensitive; substring and whole-word",
    "rouge_l": "rouge-score rougeL F-measure, Porter stemmer",
    "bleu": "sacrebleu corpus BLEU (0-100), 13a tokenizer, exponential smoothing",
}


@dataclass(frozen=True, slots=True)
class OpenRecord:
    """One open question and the model's answer (None when no answer was stored)."""

    question_id: str
    question_type: str
    reference: str
    keywords: tuple[str, ...]
    prediction: str | None


def _keyword_pattern(keyword: str, whole_word: bool) -> re.Pattern:
    escaped = re.escape(keyword.casefold())
    return re.compile(rf"\b{escaped}\b" if whole_word else escaped)


def keyword_matches(prediction: str, keywords: Sequence[str],
                    whole_word: bool = False) -> tuple[list[str], list[str]]:
    """Split ``keywords`` into those found in ``prediction`` and those missed, in order."""
    text = prediction.casefold()
    hit, missed = [], []
    for keyword in keywords:
        if whole_word:
            found = _keyword_pattern(keyword, True).search(text) is not None
        else:
            found = keyword.casefold() in text
        (hit if found else missed).append(keyword)
    return hit, missed


def keyword_spans(text: str, keywords: Sequence[str],
                  whole_word: bool = False) -> list[tuple[int, int]]:
    """Return the (start, end) character spans of every keyword occurrence in ``text``.

    Matching is the same as :func:`keyword_matches`. Overlapping spans are merged, so the
    result is sorted and disjoint.
    """
    folded = text.casefold()
    if len(folded) != len(text):
        # Case folding changed the length (e.g. German sharp s), so offsets would not line
        # up with the original; lower() keeps the length for almost all text.
        folded = text.lower()
    spans = []
    for keyword in keywords:
        if not keyword:
            continue
        pattern = _keyword_pattern(keyword, whole_word)
        spans.extend(match.span() for match in pattern.finditer(folded))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def keyword_recall(prediction: str, keywords: Sequence[str],
                   whole_word: bool = False) -> float | None:
    """Return the share of ``keywords`` found in ``prediction``; None for no keywords."""
    if not keywords:
        return None
    hit, _ = keyword_matches(prediction, keywords, whole_word)
    return len(hit) / len(keywords)


def compute_open_metrics(records: Iterable[OpenRecord], seed: int = DEFAULT_SEED,
                         resamples: int = DEFAULT_RESAMPLES) -> dict:
    """Return open-question metrics overall and by question type, as a JSON-ready dict."""
    records = list(records)
    groups: dict[str, list[OpenRecord]] = {}
    for record in records:
        groups.setdefault(record.question_type, []).append(record)
    result = _group_metrics("overall", records, seed, resamples)
    result["missing"] = sum(record.prediction is None for record in records)
    result["by_type"] = {name: _group_metrics(f"type/{name}", groups[name], seed, resamples)
                         for name in sorted(groups)}
    result["config"] = dict(CONFIG, bootstrap={"resamples": resamples, "seed": seed})
    return result


def _group_metrics(name: str, records: list[OpenRecord], seed: int, resamples: int) -> dict:
    predictions = [record.prediction or "" for record in records]
    result: dict = {"total": len(records)}
    for key, whole_word in (("keyword_recall_substring", False), ("keyword_recall_word", True)):
        scores = [keyword_recall(prediction, record.keywords, whole_word)
                  for prediction, record in zip(predictions, records)]
        scores = [score for score in scores if score is not None]
        result[key] = _mean(f"{name}/{key}", scores, seed, resamples)

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    rouge = [scorer.score(record.reference, prediction)["rougeL"].fmeasure
             for prediction, record in zip(predictions, records)]
    result["rouge_l"] = _mean(f"{name}/rouge_l", rouge, seed, resamples)
    result["bleu"] = _corpus_bleu(f"{name}/bleu", predictions,
                                  [record.reference for record in records], seed, resamples)
    return result


def _mean(name: str, scores: list[float], seed: int, resamples: int) -> dict:
    return {"total": len(scores), "mean": float(np.mean(scores)) if scores else None,
            "ci95": mean_interval(scores, name, seed, resamples)}


def _corpus_bleu(name: str, predictions: list[str], references: list[str], seed: int,
                 resamples: int) -> dict:
    """Corpus BLEU from summed per-sentence n-gram statistics, so that a bootstrap resample
    only re-sums them instead of re-tokenising the corpus."""
    if not predictions:
        return {"total": 0, "score": None, "ci95": None}
    # effective_order only changes sentence scores, which are not used; it silences the
    # sentence-level warning.
    sentence_bleu = BLEU(effective_order=True)
    stats = []
    for prediction, reference in zip(predictions, references):
        score = sentence_bleu.sentence_score(prediction, [reference])
        stats.append([*score.counts, *score.totals, score.sys_len, score.ref_len])
    stats_array = np.asarray(stats, dtype=np.int64)

    def corpus_score(indices: np.ndarray) -> float:
        summed = stats_array[indices].sum(axis=0).tolist()
        return BLEU.compute_bleu(summed[:BLEU_MAX_ORDER], summed[BLEU_MAX_ORDER:2 * BLEU_MAX_ORDER],
                                 summed[-2], summed[-1], smooth_method="exp").score

    return {"total": len(predictions), "score": corpus_score(np.arange(len(predictions))),
            "ci95": statistic_interval(len(predictions), corpus_score, name, seed, resamples)}
