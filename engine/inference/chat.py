"""Plain chat calls on a registered model: a system text, a user text and an optional image.

Callers that do not render a prompt template themselves, such as the judge of open
answers, build their request with :func:`chat_request` and run it with
:func:`generate_text`. :class:`LazyBackend` opens a registered model's backend on
first use, so code that only describes the model never loads its weights.
"""

from __future__ import annotations

from typing import Any

from db.session import Database
from engine.errors import InvalidInputError
from engine.inference.base import InferenceBackend
from engine.inference.loader import open_backend
from engine.inference.registry import AdapterRecord, ModelRecord, get_model
from engine.inference.types import GenerationSettings, Request, Result


def chat_request(user: str, *, system: str = "", image: Any = None,
                 settings: GenerationSettings | None = None, key: Any = None,
                 template_id: str | None = None, template_version: str | None = None) -> Request:
    """Build a request of an optional system message and one user message.

    ``image`` is a path, encoded bytes, a PIL image or a uint8 array. With an image the user
    message starts with one image part, and without one the request is text only.
    """
    messages: list[dict[str, Any]] = []
    if system.strip():
        messages.append({"role": "system", "content": system.strip()})
    content: list[dict[str, Any]] = [{"type": "image"}] if image is not None else []
    content.append({"type": "text", "text": user})
    messages.append({"role": "user", "content": content})
    return Request(messages=tuple(messages), images=(image,) if image is not None else (),
                   settings=settings or GenerationSettings(), key=key, template_id=template_id,
                   template_version=template_version)


def generate_text(backend: InferenceBackend, user: str, *, system: str = "", image: Any = None,
                  settings: GenerationSettings | None = None, key: Any = None) -> Result:
    """Generate the reply to one chat on ``backend``; the text is ``result.text``."""
    request = chat_request(user, system=system, image=image, settings=settings, key=key)
    return backend.generate([request])[0]


class LazyBackend:
    """A registered model (and adapter) whose backend is opened on the first :meth:`get`.

    Looking the model up is cheap and raises at once: NotFoundError for an unknown model or
    adapter, InvalidInputError for an adapter on a model that is not a transformers model.
    ``overrides`` replace the model's stored backend settings, as in ``open_backend``.
    """

    def __init__(self, db: Database, model_name: str, adapter_name: str | None = None,
                 **overrides: Any) -> None:
        self.record: ModelRecord = get_model(db, model_name)
        self.adapter: AdapterRecord | None = None
        if adapter_name is not None:
            if self.record.backend != "transformers":
                raise InvalidInputError(
                    f"model '{model_name}' uses {self.record.backend}; adapters load on "
                    "transformers models only, so drop the adapter or merge it and register "
                    "the merged model")
            self.adapter = self.record.adapter(adapter_name)
        self.overrides = overrides
        self._backend: InferenceBackend | None = None

    @property
    def loaded(self) -> bool:
        return self._backend is not None

    def get(self) -> InferenceBackend:
        """Return the open backend, loading the model the first time."""
        if self._backend is None:
            adapter = self.adapter.name if self.adapter is not None else None
            self._backend = open_backend(self.record, adapter=adapter, **self.overrides)
        return self._backend

    def close(self) -> None:
        """Free the model if it was loaded; a later :meth:`get` loads it again."""
        if self._backend is not None:
            backend, self._backend = self._backend, None
            backend.close()
