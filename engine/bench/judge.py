"""An optional judge model that grades open answers against the reference answer.

The judge prompt comes from the template ``resources/prompts/judge-open.v1.toml``. Every
verdict is stored as a ``judgement`` row with the full prompt, the judge model's name and
its raw reply; the score is read from the reply's last "Score: N" line (0 to 10, stored as
N / 10) and stays None when the reply has none. Judging is resumable: answers that already
have a judgement by the same judge model are skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import exists, select

from db.models import Answer, Judgement, Question
from db.session import Database
from engine.errors import InvalidInputError
from engine.inference.prompts import PROMPTS_DIR, PromptTemplate, read_template
from engine.inference.types import GenerationSettings
from engine.progress import NullProgress, Progress

JUDGE_TEMPLATE = PROMPTS_DIR / "judge-open.v1.toml"
MAX_SCORE = 10

_SCORE = re.compile(r"\bscore\b\s*[:=]\s*\**\s*(\d{1,2})(?:\s*/\s*10)?\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class JudgePrompt:
    """A rendered judge prompt: system and user text, the template that made them and the
    template's generation settings."""

    system: str
    user: str
    template_id: str
    template_version: str
    settings: GenerationSettings = field(default_factory=GenerationSettings)

    @property
    def text(self) -> str:
        """The prompt as stored in ``judgement.prompt``."""
        return (f"template {self.template_id} v{self.template_version}\n\n"
                f"system:\n{self.system}\n\nuser:\n{self.user}")


class Judge(Protocol):
    """A text-only model that replies to a judge prompt."""

    def describe(self) -> dict[str, Any]:
        ...

    def judge(self, prompt: JudgePrompt) -> str | None:
        """Return the model's raw reply to ``prompt``."""
        ...

    def close(self) -> None:
        ...


@lru_cache(maxsize=4)
def _template(path: Path) -> PromptTemplate:
    template = read_template(path)
    if template.kind != "judge":
        raise InvalidInputError(f"'{path}' is a {template.kind} prompt template, not a judge "
                                "template; it needs kind = \"judge\"")
    return template


def render_judge_prompt(question: str, reference: str, keywords: list[str] | tuple[str, ...],
                        answer: str, template: Path = JUDGE_TEMPLATE) -> JudgePrompt:
    """Render the judge prompt for one open answer."""
    found = _template(template)
    messages = found.render(question=question, reference=reference, keywords=list(keywords),
                            answer=answer)
    system = next((message["content"] for message in messages if message["role"] == "system"), "")
    user = "\n".join(part["text"] for part in messages[-1]["content"] if part["type"] == "text")
    return JudgePrompt(system, user, found.id, found.version, found.default_settings())


def parse_verdict(raw: str | None) -> float | None:
    """Return the score of a judge reply as a fraction of 10 (the last "Score: N" wins), or
    None when the reply has no score from 0 to 10."""
    matches = list(_SCORE.finditer(raw or ""))
    if not matches:
        return None
    value = int(matches[-1].group(1))
    return value / MAX_SCORE if value <= MAX_SCORE else None


def judge_open_answers(db: Database, run_id: int, judge: Judge, judge_name: str,
                       progress: Progress | None = None) -> int:
    """Judge the run's open answers that have text and no judgement by ``judge_name`` yet;
    commit each judgement as it is made and return how many were made."""
    progress = progress or NullProgress()
    with db.session() as session:
        already = exists().where(Judgement.answer_id == Answer.id,
                                 Judgement.judge_model_name == judge_name)
        pending = session.execute(
            select(Answer.id, Answer.raw_output, Question.stem, Question.reference_answer,
                   Question.keywords)
            .join(Question, Answer.question_id == Question.id)
            .where(Answer.run_id == run_id, Question.kind == "open", Answer.skipped.is_(None),
                   Answer.raw_output.is_not(None), Answer.raw_output != "", ~already)
            .order_by(Answer.id)
        ).all()

    progress.start(len(pending), f"judging {len(pending)} open answers with {judge_name}")
    for row in pending:
        prompt = render_judge_prompt(row.stem, row.reference_answer or "", row.keywords or (),
                                     row.raw_output)
        raw = judge.judge(prompt)
        with db.session(write=True) as session:
            session.add(Judgement(answer_id=row.id, judge_model_name=judge_name,
                                  prompt=prompt.text, raw_verdict=raw, score=parse_verdict(raw)))
        progress.advance()
    return len(pending)
