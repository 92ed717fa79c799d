"""Option-letter probabilities from a model's next-token distribution.

Method, the same for every backend: take the next-token distribution after the rendered
prompt (softmax over the whole vocabulary), add up the probability of every token whose
text is exactly the letter or a space followed by the letter ("A" and " A"; with
SentencePiece also "▁A"), for each valid letter of the question only. The sum over those
letters is the *letter mass*, the share of probability the model put on answering with a
letter at all; dividing by it gives probabilities over the valid letters that sum to 1.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

from engine.errors import WorkbenchError

# Options in MM-NeuroOnco run from A to E; any capital letter is accepted.
ALL_LETTERS = tuple(chr(code) for code in range(ord("A"), ord("Z") + 1))


def letters_phrase(letters: Sequence[str]) -> str:
    """Return "A or B", "A, B or C", ... for a prompt that lists exactly these letters."""
    letters = list(letters)
    if not letters:
        raise WorkbenchError("a closed question needs at least one option letter")
    if len(letters) == 1:
        return letters[0]
    return ", ".join(letters[:-1]) + " or " + letters[-1]


def letter_of_token_text(text: str) -> str | None:
    """Return the capital letter a token's text stands for ("A", " A", "▁A"), else None."""
    stripped = text[1:] if text[:1] in (" ", "\u2581") else text
    if len(stripped) == 1 and stripped in ALL_LETTERS:
        return stripped
    return None


def letter_token_table(token_texts: Iterable[tuple[int, str]]) -> dict[str, tuple[int, ...]]:
    """Map each capital letter to the ids of the tokens that spell it.

    ``token_texts`` yields (token id, decoded text of that single token) for the whole
    vocabulary except special tokens.
    """
    table: dict[str, list[int]] = {}
    for token_id, text in token_texts:
        letter = letter_of_token_text(text)
        if letter is not None:
            table.setdefault(letter, []).append(int(token_id))
    return {letter: tuple(sorted(set(ids))) for letter, ids in table.items()}


def ids_for_letters(table: dict[str, tuple[int, ...]], letters: Sequence[str]) -> dict[str, tuple[int, ...]]:
    """Select the token ids of ``letters``; raise WorkbenchError for a letter with no token."""
    missing = [letter for letter in letters if not table.get(letter)]
    if missing:
        raise WorkbenchError(f"the model's vocabulary has no token for option letter(s) "
                             f"{', '.join(missing)}; score this model with generated text instead")
    return {letter: table[letter] for letter in letters}


def from_logits(logits: np.ndarray, letter_ids: dict[str, tuple[int, ...]]) -> tuple[dict[str, float], float]:
    """Return (probabilities over the letters, letter mass) from one row of raw logits.

    Works in log space, so the probabilities stay defined even when the letter mass
    underflows to 0.0.
    """
    logits = np.asarray(logits, dtype=np.float64).reshape(-1)
    log_norm = _logsumexp(logits)
    log_letter = {letter: _logsumexp(logits[list(ids)]) for letter, ids in letter_ids.items()}
    log_mass = _logsumexp(np.array(list(log_letter.values())))
    probs = {letter: float(np.exp(value - log_mass)) for letter, value in log_letter.items()}
    return probs, float(np.exp(log_mass - log_norm))


def _logsumexp(values: np.ndarray) -> float:
    top = float(values.max())
    return top + float(np.log(np.exp(values - top).sum()))


def from_top_logprobs(top: Iterable[tuple[str, float]], letters: Sequence[str]) -> tuple[dict[str, float] | None, float]:
    """Return (probabilities, letter mass) from (token text, log-probability) pairs.

    A server returns only its top-k tokens, so a letter outside them counts as 0 and the
    mass is a lower bound. Probabilities are None when no valid letter is among them.
    """
    per_letter = {letter: 0.0 for letter in letters}
    for text, logprob in top:
        letter = letter_of_token_text(text)
        if letter in per_letter:
            per_letter[letter] += float(np.exp(logprob))
    if sum(per_letter.values()) <= 0:
        return None, 0.0
    return normalise(per_letter)


def normalise(per_letter: dict[str, float]) -> tuple[dict[str, float], float]:
    mass = float(sum(per_letter.values()))
    if mass <= 0:
        raise WorkbenchError("the model put zero probability on every option letter")
    return {letter: value / mass for letter, value in per_letter.items()}, mass
