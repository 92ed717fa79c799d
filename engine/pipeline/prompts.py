"""The pipeline's prompt templates: versioned TOML files in ``resources/prompts/``.

The files use the inference engine's template format: ``<id>.v<version>.toml`` with ``id``,
``version``, ``kind``, ``description``, ``image``, ``system`` and ``user`` (Jinja2 text) and
optional ``[settings]``. This module reads only what the pipeline needs: the rendered
system and user text and the generation settings.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from engine.errors import InvalidInputError, NotFoundError
from resources import RESOURCES_DIR

PROMPTS_DIR = RESOURCES_DIR / "prompts"
RUN_A_PROMPT = "silver-run-a.v1"
RUN_B_PROMPT = "silver-run-b.v1"
AUDIT_PROMPT = "silver-audit.v1"
PARAPHRASE_PROMPT = "question-paraphrase.v1"
_ENVIRONMENT = ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined, trim_blocks=True,
                                             lstrip_blocks=True)


@dataclass(frozen=True)
class Prompt:
    """A loaded template; ``name`` is ``<id>.v<version>``, stored with every label."""

    name: str
    system: str
    user: str
    image: bool = True
    settings: dict[str, Any] = field(default_factory=dict)

    def render(self, **variables: Any) -> tuple[str, str]:
        """Return the (system, user) texts; raise InvalidInputError for a missing variable."""
        try:
            system = _ENVIRONMENT.from_string(self.system).render(**variables).strip()
            user = _ENVIRONMENT.from_string(self.user).render(**variables).strip()
        except jinja2.UndefinedError as error:
            raise InvalidInputError(f"prompt {self.name} needs a value: {error}") from None
        return system, user


def load_prompt(name: str, directory: Path | None = None) -> Prompt:
    """Load prompt ``<id>.v<version>`` from ``directory`` (default ``resources/prompts``).

    Raises NotFoundError for a missing file and InvalidInputError for invalid TOML or a
    file whose id and version disagree with its name.
    """
    path = (directory or PROMPTS_DIR) / f"{name}.toml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in (directory or PROMPTS_DIR).glob("*.toml")))
        raise NotFoundError(f"prompt '{name}' not found in {path.parent}; known: {known}")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise InvalidInputError(f"prompt file {path} is not valid TOML ({error})") from None
    if f"{data.get('id')}.v{data.get('version')}" != name:
        raise InvalidInputError(f"prompt file {path} declares id {data.get('id')!r} version "
                                f"{data.get('version')!r}; rename the file or fix the keys")
    return Prompt(name=name, system=data.get("system", ""), user=data["user"],
                  image=bool(data.get("image", True)), settings=dict(data.get("settings", {})))
