"""Where sessions get a registered model as an answerer or as a judge of open answers.

Both go through the inference engine (``engine.inference``: the model registry, backends
and prompt templates) and load the model only when it is first asked, so ``create_run``
can check a configuration without loading weights. Baselines do not pass through here.
"""

from __future__ import annotations

from typing import Any

from db.session import Database
from engine.bench.answerer import Answerer
from engine.bench.judge import Judge, JudgePrompt
from engine.bench.model_answerer import ModelAnswerer
from engine.inference.chat import LazyBackend, chat_request
from engine.inference.loader import generation_defaults
from engine.inference.provenance import model_description
from engine.inference.types import GenerationSettings

# A judge decodes greedily whatever the model's stored defaults set, so a verdict repeats.
GREEDY = {"temperature": 0.0, "top_p": 1.0, "seed": 0}


def model_answerer(db: Database, model_name: str, adapter_name: str | None, mode: str,
                   template_id: str | None, seed: int) -> Answerer:
    """Return an answerer for registered model ``model_name`` (with adapter ``adapter_name``).

    ``mode`` is "generate" (text, parsed into a letter) or "letter-prob" (probabilities of
    the question's own letters). ``template_id`` names the prompt template of closed
    questions: "ID" for its highest version, "ID.vN" for version N, None for
    ``closed-letter``. ``seed`` is the generation seed. The answerer's ``describe()``
    includes the resolved template id and version and the model's provenance (backend,
    file hashes or revision, file sizes and times, quantization, adapter and its hash).

    Building the answerer is cheap and does not load weights: ``create_run`` builds one only
    to store ``describe()`` and closes it. The model loads on the first ``answer_image``
    call. ``run_session`` refuses to resume a run whose answerer now describes itself
    differently (changed weights, template or backend settings).

    Raises NotFoundError for an unknown model, adapter or template, and InvalidInputError
    for an adapter on a model that is not a transformers model, a template that does not
    suit ``mode``, or missing model files.
    """
    return ModelAnswerer(db, model_name, adapter_name, mode, template_id, seed)


def model_judge(db: Database, model_name: str) -> Judge:
    """Return registered model ``model_name`` as a judge of open answers (text only, greedy).

    Raises NotFoundError for an unknown model and InvalidInputError for missing model files.
    """
    return ModelJudge(db, model_name)


class ModelJudge:
    """Sends each judge prompt as text to a registered model and returns the raw reply.

    Decoding is greedy; the other settings are the judge template's, overridden by the
    model's stored generation defaults.
    """

    def __init__(self, db: Database, model_name: str) -> None:
        self.model = LazyBackend(db, model_name)
        self._defaults = generation_defaults(self.model.record)
        GenerationSettings.from_dict(self._defaults)  # invalid stored defaults raise now
        self._description = {"kind": "model-judge",
                             "model": model_description(self.model.record)}

    def describe(self) -> dict[str, Any]:
        return dict(self._description)

    def judge(self, prompt: JudgePrompt) -> str | None:
        settings = GenerationSettings.from_dict({**prompt.settings.as_dict(), **self._defaults,
                                                 **GREEDY})
        request = chat_request(prompt.user, system=prompt.system, settings=settings,
                               template_id=prompt.template_id,
                               template_version=prompt.template_version)
        return self.model.get().generate([request])[0].text

    def close(self) -> None:
        self.model.close()
