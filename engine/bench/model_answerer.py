"""A registered model as a session answerer, through the inference engine.

Closed questions are rendered with a closed-question prompt template (default
``closed-letter``) that lists exactly the question's own letters, so a two-option question
offers A and B only and the rejection-aware setting adds E where the question has it. Open
questions (generate mode only) use the ``open`` template. All questions about one image go
to the backend in one ``answer_many`` call, which encodes the image once.

In generate mode the answer is the generated text, which the session parses into a letter;
a reasoning model's ``<think>...</think>`` block is stored apart as ``reasoning`` and only
the text after it is parsed. In letter-prob mode the answer is the next-token probability
of each of the question's letters, normalised to sum to 1, and the letter mass.
"""

from __future__ import annotations

import copy
import re
from dataclasses import replace
from typing import Any, Sequence

from db.session import Database
from engine.bench.answer_rows import GENERATE, LETTER_PROB, MODES
from engine.bench.answerer import ImageInput, ModelAnswer
from engine.bench.plan import CLOSED, SessionQuestion
from engine.errors import InvalidInputError, WorkbenchError
from engine.inference.chat import LazyBackend
from engine.inference.loader import generation_defaults
from engine.inference.prompts import PromptTemplate, available_templates, load_template
from engine.inference.provenance import answer_fields, model_description
from engine.inference.types import GenerationSettings, Request, Result

DEFAULT_CLOSED_TEMPLATE = "closed-letter"
OPEN_TEMPLATE = "open"
# Template kinds each scoring mode accepts for closed questions. Letter probabilities are
# read at the first generated token, so they need a template that asks for the letter only.
MODE_TEMPLATE_KINDS = {GENERATE: ("closed", "closed-reasoning"), LETTER_PROB: ("closed",)}
# The inference engine's names of the two scoring modes.
BACKEND_MODES = {GENERATE: "generate", LETTER_PROB: "letters"}

# "closed-letter.v1" pins version 1 of template "closed-letter".
_PINNED_TEMPLATE = re.compile(r"^(?P<id>.+)\.v(?P<version>\d+(?:\.\d+)*)$")
_THINK_OPEN, _THINK_CLOSE = "<think>", "</think>"


class ModelAnswerer:
    """Answers a session's questions with registered model ``model_name`` (and adapter).

    Building one looks the model up, reads the templates and the model's file sizes and
    times; the weights load on the first :meth:`answer_image` call.
    """

    needs_image = True

    def __init__(self, db: Database, model_name: str, adapter_name: str | None, mode: str,
                 template: str | None, seed: int) -> None:
        if mode not in MODES:
            raise InvalidInputError(f"unknown scoring mode {mode!r}; use one of {', '.join(MODES)}")
        self.mode = mode
        self.seed = seed
        self.model = LazyBackend(db, model_name, adapter_name)
        self.closed_template = closed_template(template, mode)
        self.open_template = load_template(OPEN_TEMPLATE) if mode == GENERATE else None

        defaults = generation_defaults(self.model.record)
        self.closed_settings = _settings(self.closed_template, defaults, seed)
        self.open_settings = (_settings(self.open_template, defaults, seed)
                              if self.open_template is not None else None)
        self._description = self._describe()

    def describe(self) -> dict[str, Any]:
        return copy.deepcopy(self._description)

    def answer_image(self, image: ImageInput,
                     questions: Sequence[SessionQuestion]) -> list[ModelAnswer]:
        if image.path is None:
            raise WorkbenchError(f"item {image.item_id} has no image file ({image.image_path}); "
                                 "a model cannot answer its questions")
        requests = [self.request_for(question) for question in questions]
        results = self.model.get().answer_many(image.path, requests,
                                               mode=BACKEND_MODES[self.mode])
        keys = [result.key for result in results]
        if keys != [question.question_id for question in questions]:
            raise WorkbenchError(f"the backend answered questions {keys} of item "
                                 f"{image.item_id} out of order")
        return [self._answer(result, image) for result in results]

    def close(self) -> None:
        self.model.close()

    def _describe(self) -> dict[str, Any]:
        description: dict[str, Any] = {
            "kind": "model",
            "model": model_description(self.model.record, self.model.adapter),
            "mode": self.mode,
            "template_id": self.closed_template.id,
            "template_version": self.closed_template.version,
            "open_template": None,
            "settings": {"closed": self.closed_settings.as_dict(), "open": None},
            "seed": self.seed,
        }
        if self.open_template is not None:
            description["open_template"] = {"id": self.open_template.id,
                                            "version": self.open_template.version}
            description["settings"]["open"] = self.open_settings.as_dict()
        return description

    def request_for(self, question: SessionQuestion) -> Request:
        """Return the inference request that asks ``question`` (its image is set later)."""
        if question.kind == CLOSED:
            request = self.closed_template.request(question=question.stem,
                                                   options=question.options,
                                                   settings=self.closed_settings,
                                                   key=question.question_id)
            # Generated text is parsed, so first-token letter probabilities are not needed.
            return request if self.mode == LETTER_PROB else replace(request, valid_letters=())
        if self.open_template is None:
            raise WorkbenchError(f"question {question.question_id} is open, but letter-prob "
                                 "sessions ask closed questions only")
        return self.open_template.request(question=question.stem, settings=self.open_settings,
                                          key=question.question_id)

    def _answer(self, result: Result, image: ImageInput) -> ModelAnswer:
        fields = answer_fields(result)
        provenance = fields["provenance"]
        provenance["image"] = {"item_id": image.item_id, "image_path": image.image_path,
                               "slice_id": image.slice_id}
        common = dict(prompt_tokens=fields["prompt_tokens"],
                      completion_tokens=fields["completion_tokens"],
                      latency_ms=fields["latency_ms"], provenance=provenance)
        if self.mode == LETTER_PROB:
            return ModelAnswer(letter_probs=fields["letter_probs"],
                               letter_mass=fields["letter_mass"], **common)
        text, reasoning = split_reasoning(result.text or "")
        return ModelAnswer(raw_output=text, reasoning=reasoning, **common)


def closed_template(template: str | None, mode: str) -> PromptTemplate:
    """Return the closed-question template named ``template`` ("ID" for its highest version,
    "ID.vN" for version N, None for the default) after checking it suits ``mode``."""
    if template is None:
        found = load_template(DEFAULT_CLOSED_TEMPLATE)
    else:
        pinned = _PINNED_TEMPLATE.match(template)
        known = {found.id for found in available_templates()}
        if pinned and pinned["id"] in known and template not in known:
            found = load_template(pinned["id"], pinned["version"])
        else:
            found = load_template(template)
    allowed = MODE_TEMPLATE_KINDS[mode]
    if found.kind not in allowed:
        usable = sorted({entry.id for entry in available_templates() if entry.kind in allowed})
        raise InvalidInputError(f"prompt template '{found.id}' has kind {found.kind}, but {mode} "
                                f"sessions need a closed-question template of kind "
                                f"{' or '.join(allowed)}; use one of {', '.join(usable)}")
    return found


def _settings(template: PromptTemplate, model_defaults: dict[str, Any],
              seed: int) -> GenerationSettings:
    """Merge the template's settings, the model's stored generation defaults and ``seed``;
    a later source overrides an earlier one."""
    return template.default_settings(**{**model_defaults, "seed": seed})


def split_reasoning(text: str) -> tuple[str, str | None]:
    """Split ``<think>...</think>`` from a reply; return (answer text, reasoning or None).

    An unclosed ``<think>`` (the reply hit the token limit while thinking) makes the whole
    reply reasoning and the answer empty, which the parser records as unparsed.
    """
    if _THINK_CLOSE in text:
        thought, _, answer = text.rpartition(_THINK_CLOSE)
        return answer.strip(), thought.replace(_THINK_OPEN, "", 1).strip()
    start = text.find(_THINK_OPEN)
    if start != -1 and not text[:start].strip():
        return "", text[start + len(_THINK_OPEN):].strip()
    return text, None


def with_hashes_filled(recorded: Any, described: dict[str, Any]) -> Any:
    """Return a model answerer's ``recorded`` description with the registry hashes that were
    not computed yet when the run was created (None) taken from ``described``.

    A model registered without hashing gets its hashes from a later ``models.hash`` job.
    The file sizes and modification times in both descriptions still have to match, so
    such a run is resumed only when the files are the ones it was created with.
    """
    if not (isinstance(recorded, dict) and recorded.get("kind") == "model"
            and described.get("kind") == "model"):
        return recorded
    filled = copy.deepcopy(recorded)
    model, current = filled["model"], described["model"]
    for key in ("sha256", "file_hashes"):
        if model.get(key) is None:
            model[key] = current.get(key)
    adapter, current_adapter = model.get("adapter"), current.get("adapter")
    if adapter and current_adapter and adapter.get("sha256") is None:
        adapter["sha256"] = current_adapter.get("sha256")
    return filled
