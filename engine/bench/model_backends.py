"""Where sessions get a registered model as an answerer or as a judge of open answers.

TODO: wire both functions to the inference engine (``engine.inference``: the model
registry, backends and prompt templates). Until then every model session and every judge
stops here with :class:`ModelBackendUnavailable`, before a run row is written; baselines
do not pass through this module.
"""

from __future__ import annotations

from db.session import Database
from engine.bench.answerer import Answerer
from engine.bench.judge import Judge
from engine.errors import WorkbenchError


class ModelBackendUnavailable(WorkbenchError):
    """This build cannot load model backends."""


def _unavailable(model_name: str) -> ModelBackendUnavailable:
    return ModelBackendUnavailable(
        f"model backends are not available in this build yet, so model '{model_name}' cannot "
        "answer; run a baseline instead (baseline:random, baseline:always-e, "
        "baseline:majority, baseline:semantics-oracle)")


def model_answerer(db: Database, model_name: str, adapter_name: str | None, mode: str,
                   template_id: str | None, seed: int) -> Answerer:
    """Return an answerer for registered model ``model_name`` (with adapter ``adapter_name``).

    ``mode`` is "generate" (text, parsed into a letter) or "letter-prob" (probabilities of
    the question's own letters). ``template_id`` names the prompt template of closed
    questions (None: the backend's default); ``seed`` is the generation seed. The
    answerer's ``describe()`` must include the resolved template id and version and the
    model's provenance (backend, file hashes or revision, quantization).

    Building the answerer must be cheap and must not load weights: ``create_run`` builds
    one only to store ``describe()`` and closes it. Load the model on the first
    ``answer_image`` call. ``run_session`` refuses to resume a run whose answerer now
    describes itself differently (changed weights, template or backend settings).

    Raises ModelBackendUnavailable in this build.
    """
    raise _unavailable(model_name)


def model_judge(db: Database, model_name: str) -> Judge:
    """Return registered model ``model_name`` as a judge of open answers (text only).

    Raises ModelBackendUnavailable in this build.
    """
    raise _unavailable(model_name)
