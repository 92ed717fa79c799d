"""Requests, generation settings and results shared by every inference backend."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from engine.errors import InvalidInputError

Mode = Literal["generate", "letters"]


@dataclass(frozen=True)
class GenerationSettings:
    """Decoding parameters; greedy decoding (temperature 0) is the default.

    ``max_new_tokens`` counts generated tokens; ``temperature`` 0 means greedy; ``top_p`` is
    the nucleus-sampling mass (1.0 = off); ``seed`` fixes sampling; ``stop`` strings end the
    text; ``json_schema`` constrains the output to JSON where the backend supports it
    (llama.cpp grammar, OpenAI ``response_format``) and is ignored by transformers.
    """

    max_new_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0
    stop: tuple[str, ...] = ()
    json_schema: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise InvalidInputError(f"max_new_tokens is {self.max_new_tokens}; use 1 or more")
        if not (self.temperature >= 0 and math.isfinite(self.temperature)):
            raise InvalidInputError(f"temperature is {self.temperature}; use 0 (greedy) or more")
        if not 0 < self.top_p <= 1:
            raise InvalidInputError(f"top_p is {self.top_p}; use a value in (0, 1]")
        object.__setattr__(self, "stop", tuple(self.stop))

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    def as_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["stop"] = list(self.stop)
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> GenerationSettings:
        """Build settings from a dict such as a model's stored defaults; unknown keys raise."""
        values = dict(values or {})
        unknown = sorted(set(values) - set(cls.__dataclass_fields__))
        if unknown:
            raise InvalidInputError(f"unknown generation setting(s) {', '.join(unknown)}; known: "
                                    f"{', '.join(cls.__dataclass_fields__)}")
        if "stop" in values:
            values["stop"] = tuple(values["stop"] or ())
        return cls(**values)


@dataclass(frozen=True)
class Request:
    """One model call: a chat plus the images its image parts refer to.

    ``messages`` use a backend-neutral form: ``{"role": ..., "content": str}`` or a content
    list of ``{"type": "image"}`` and ``{"type": "text", "text": ...}`` parts. ``images`` hold
    one source per image part, in order (a path, encoded bytes, a PIL image or a uint8
    array). ``valid_letters`` are the question's own option letters, used for letter
    probabilities. ``key`` is the caller's identifier (for example a question id).
    """

    messages: tuple[dict[str, Any], ...]
    images: tuple[Any, ...] = ()
    valid_letters: tuple[str, ...] = ()
    settings: GenerationSettings = field(default_factory=GenerationSettings)
    template_id: str | None = None
    template_version: str | None = None
    key: Any = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "messages", tuple(self.messages))
        object.__setattr__(self, "images", tuple(self.images))
        object.__setattr__(self, "valid_letters", tuple(self.valid_letters))
        for letter in self.valid_letters:
            if len(letter) != 1 or not ("A" <= letter <= "Z"):
                raise InvalidInputError(f"option letter {letter!r} is invalid; use single capitals A-Z")
        if len(set(self.valid_letters)) != len(self.valid_letters):
            raise InvalidInputError(f"option letters {self.valid_letters} repeat a letter")

    @property
    def image_slots(self) -> int:
        """The number of image parts in the messages."""
        count = 0
        for message in self.messages:
            content = message.get("content")
            if isinstance(content, list):
                count += sum(1 for part in content if part.get("type") == "image")
        return count

    def with_image(self, image: Any) -> Request:
        """Return a copy whose single image part refers to ``image``."""
        if self.image_slots != 1:
            raise InvalidInputError(f"request {self.key!r} has {self.image_slots} image parts; "
                                    "a shared image needs exactly one")
        return replace(self, images=(image,))

    def check_images(self) -> None:
        """Raise InvalidInputError unless there is one image source per image part."""
        if self.image_slots != len(self.images):
            raise InvalidInputError(
                f"request {self.key!r} has {self.image_slots} image part(s) but "
                f"{len(self.images)} image(s); pass one image per image part")


@dataclass
class Timings:
    """Seconds spent on one request.

    ``prefill_s`` covers image encoding and the prompt forward pass, and ``decode_s`` the
    generated tokens. ``shared_prefix_s`` is this request's equal share of a prefix (system
    prompt and image) computed once for several questions. ``total_s`` is their sum.
    """

    prefill_s: float = 0.0
    decode_s: float = 0.0
    shared_prefix_s: float = 0.0

    @property
    def total_s(self) -> float:
        return self.prefill_s + self.decode_s + self.shared_prefix_s

    def as_dict(self) -> dict[str, float]:
        return {"prefill_s": self.prefill_s, "decode_s": self.decode_s,
                "shared_prefix_s": self.shared_prefix_s, "total_s": self.total_s}


@dataclass
class Result:
    """What a backend returns for one request.

    ``text`` is None when only letter probabilities were asked for. ``letter_probs`` maps
    each valid letter to its probability (they sum to 1) and ``letter_mass`` is the total
    next-token probability the model put on letter tokens before normalising; both are
    None when the request had no valid letters or the backend could not compute them
    (``letter_note`` then says why). ``model`` and ``backend_options`` describe what ran.
    """

    key: Any
    text: str | None = None
    letter_probs: dict[str, float] | None = None
    letter_mass: float | None = None
    letter_method: str | None = None
    letter_note: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    finish_reason: str | None = None
    timings: Timings = field(default_factory=Timings)
    settings: GenerationSettings = field(default_factory=GenerationSettings)
    template_id: str | None = None
    template_version: str | None = None
    image_sha256: list[str] = field(default_factory=list)
    model: dict[str, Any] = field(default_factory=dict)
    backend_options: dict[str, Any] = field(default_factory=dict)

    @property
    def seed(self) -> int:
        return self.settings.seed

    @property
    def predicted_letter(self) -> str | None:
        """The most probable valid letter, or None without letter probabilities."""
        if not self.letter_probs:
            return None
        return max(self.letter_probs, key=lambda letter: (self.letter_probs[letter], -ord(letter)))
