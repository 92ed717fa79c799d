"""The inference engine: one interface over transformers, llama.cpp and OpenAI-compatible servers.

Callers build a :class:`Request` (usually from a prompt template), open a backend for a
registered model and call ``generate``, ``letter_probabilities`` or ``answer_many``::

    from engine.inference import load_template, open_backend, answer_fields

    template = load_template("closed-letter")
    with open_backend("qwen2.5-vl-3b", db) as backend:
        requests = [template.request(question=q.stem, options=q.options, key=q.id) for q in questions]
        for result in backend.answer_many(slice_png, requests, mode="letters"):
            row = answer_fields(result)

Heavy libraries (torch, transformers, llama_cpp) load only when a backend is opened.
"""

from engine.inference.base import InferenceBackend
from engine.inference.images import DEFAULT_MAX_PIXELS, apply_size_policy, prepare_image
from engine.inference.letters import letters_phrase
from engine.inference.loader import open_backend
from engine.inference.prompts import PromptTemplate, available_templates, load_template
from engine.inference.provenance import answer_fields, build_provenance
from engine.inference.types import GenerationSettings, Request, Result, Timings

__all__ = [
    "DEFAULT_MAX_PIXELS", "GenerationSettings", "InferenceBackend", "PromptTemplate", "Request",
    "Result", "Timings", "answer_fields", "apply_size_policy", "available_templates",
    "build_provenance", "letters_phrase", "load_template", "open_backend", "prepare_image",
]
