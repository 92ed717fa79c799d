"""Chat messages of instruction samples, in the form LLaMA-Factory and ms-swift read.

Every sample is ``{"messages": [user, assistant], "images": [path]}`` with the ``<image>``
placeholder at the start of the user turn:

- closed: the question, its options and "Answer with the option letter only."; the
  assistant replies with the letter;
- closed with reasoning: the same question asking for the letter and a short explanation;
  the assistant replies "Final: <letter>" and "Explanation: <facts>";
- open: "Question: <stem>"; the assistant replies with the reference answer.
"""

from __future__ import annotations

from engine.pipeline.questions import NONE_OF_THE_ABOVE, OpenQuestion
from engine.pipeline.traps import LaidOut

IMAGE_TOKEN = "<image>"
CLOSED_INSTRUCTION = "Answer with the option letter only."
REASONING_INSTRUCTION = ("Give the option letter on a line 'Final: <letter>', then a brief "
                         "explanation on a line 'Explanation: ...'.")


def _question_text(item: LaidOut) -> str:
    options = "\n".join(f"{letter}. {text}" for letter, text in item.options.items())
    return f"{IMAGE_TOKEN}\n{item.question.stem}\n\nOptions:\n{options}"


def closed_messages(item: LaidOut) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"{_question_text(item)}\n\n{CLOSED_INSTRUCTION}"},
            {"role": "assistant", "content": item.gold}]


def explanation(item: LaidOut) -> str:
    """Return the explanation of a laid-out question from its fact sentence."""
    fact = item.question.fact
    if item.is_trap:
        return (f"{fact} The correct answer, {item.question.answer}, is not among options "
                f"A-D, so {NONE_OF_THE_ABOVE.lower()} applies.")
    return f"{fact} So the answer is {item.gold}, {item.question.answer}."


def reasoning_messages(item: LaidOut) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"{_question_text(item)}\n\n{REASONING_INSTRUCTION}"},
            {"role": "assistant",
             "content": f"Final: {item.gold}\nExplanation: {explanation(item)}"}]


def open_messages(question: OpenQuestion) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"{IMAGE_TOKEN}\nQuestion: {question.stem}"},
            {"role": "assistant", "content": question.reference_answer}]
