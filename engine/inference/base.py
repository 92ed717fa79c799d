"""The interface every inference backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Sequence

from engine.errors import InvalidInputError
from engine.inference.images import DEFAULT_MAX_PIXELS, PreparedImage, prepare_image
from engine.inference.types import Mode, Request, Result, Timings

MODES = ("generate", "letters")


class InferenceBackend(ABC):
    """A loaded model that answers :class:`Request` objects.

    ``generate`` decodes text (and, for requests with valid letters, also returns the
    letter probabilities of the first generated token where the backend can);
    ``letter_probabilities`` runs only the prompt and returns the letter distribution;
    ``answer_many`` answers several questions about one image, encoding the image once
    where the backend allows, with the same results as separate calls. Results come back
    in request order. Use the backend as a context manager or call :meth:`close`.
    """

    backend_name: str = ""

    def __init__(self, model_info: dict[str, Any] | None = None,
                 max_pixels: int | None = DEFAULT_MAX_PIXELS) -> None:
        self.model_info: dict[str, Any] = {"backend": self.backend_name, **(model_info or {})}
        self.max_pixels = max_pixels

    # ------------------------------------------------------------------ public API

    def generate(self, requests: Sequence[Request]) -> list[Result]:
        """Generate text for each request (batched where the backend supports it)."""
        return self._run(self._checked(requests, "generate"), "generate")

    def letter_probabilities(self, requests: Sequence[Request]) -> list[Result]:
        """Return each request's probabilities over its valid letters, with the letter mass."""
        return self._run(self._checked(requests, "letters"), "letters")

    def answer_many(self, image: Any, requests: Sequence[Request], *, mode: Mode = "letters") -> list[Result]:
        """Answer several requests about one ``image`` (each with one image part, no image set)."""
        if mode not in MODES:
            raise InvalidInputError(f"mode '{mode}' is unknown; use 'generate' or 'letters'")
        prepared = prepare_image(image, self.max_pixels)
        filled = []
        for request in requests:
            if request.images:
                raise InvalidInputError(f"request {request.key!r} already has an image; answer_many "
                                        "takes the shared image as its first argument")
            filled.append(request.with_image(prepared))
        return self._run_shared(self._checked(filled, mode), mode, prepared)

    def options(self) -> dict[str, Any]:
        """Backend settings that affect results (device, dtype, context size...), for provenance."""
        return {"max_pixels": self.max_pixels}

    def close(self) -> None:
        """Free the model; the backend cannot be used afterwards."""

    def __enter__(self) -> InferenceBackend:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------------ for subclasses

    @abstractmethod
    def _run(self, requests: list[Request], mode: Mode) -> list[Result]:
        """Answer independent requests: no state is reused between them."""

    def _run_shared(self, requests: list[Request], mode: Mode, image: PreparedImage) -> list[Result]:
        """Answer requests that share ``image``; backends that can reuse the prefix override this."""
        return self._run(requests, mode)

    def _checked(self, requests: Sequence[Request], mode: Mode) -> list[Request]:
        checked = list(requests)
        for request in checked:
            if not isinstance(request, Request):
                raise InvalidInputError(f"expected a Request, got {type(request).__name__}")
            request.check_images()
            if mode == "letters" and not request.valid_letters:
                raise InvalidInputError(f"request {request.key!r} has no valid letters; letter "
                                        "probabilities need a closed question")
        return checked

    def _images(self, request: Request) -> list[PreparedImage]:
        return [prepare_image(source, self.max_pixels) for source in request.images]

    def _result(self, request: Request, images: Sequence[PreparedImage]) -> Result:
        """Create a result with the request's provenance fields for the backend to fill."""
        return Result(key=request.key, settings=request.settings, template_id=request.template_id,
                      template_version=request.template_version,
                      image_sha256=[image.sha256 for image in images],
                      model=dict(self.model_info), backend_options=self.options(), timings=Timings())
