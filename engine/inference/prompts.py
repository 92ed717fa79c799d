"""Versioned prompt templates stored as TOML files in ``resources/prompts/``.

A file ``<id>.v<version>.toml`` holds::

    id = "closed-letter"            # stable name, stored with every answer
    version = "1"                    # bump on any wording change; old files stay
    kind = "closed"                  # closed | closed-reasoning | open | extraction | judge
    description = "..."
    image = true                     # put one image part before the text (default true)
    system = "..."                   # Jinja2 text, optional
    user = "..."                     # Jinja2 text
    [settings]                       # optional GenerationSettings defaults
    max_new_tokens = 8
    [json_schema]                    # optional: constrain the output (extraction kinds)

Closed kinds receive ``question``, ``options`` (a list of (letter, text) pairs),
``letters`` and ``letters_phrase`` ("A or B", "A, B, C, D or E"), so a prompt lists
exactly the question's own letters. Other kinds receive the keyword arguments given to
:meth:`PromptTemplate.render`. The text is rendered into neutral chat messages; each
backend then applies the model's own chat template.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from engine.errors import InvalidInputError, NotFoundError
from engine.inference.letters import letters_phrase
from engine.inference.types import GenerationSettings, Request

PROMPTS_DIR = Path(__file__).resolve().parents[2] / "resources" / "prompts"
KINDS = ("closed", "closed-reasoning", "open", "extraction", "judge")
CLOSED_KINDS = ("closed", "closed-reasoning")
_ENVIRONMENT = ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined, trim_blocks=True,
                                             lstrip_blocks=True, keep_trailing_newline=False)


@dataclass(frozen=True)
class PromptTemplate:
    """One versioned prompt template; see the module docstring for the file format."""

    id: str
    version: str
    kind: str
    user: str
    system: str = ""
    description: str = ""
    image: bool = True
    settings: dict[str, Any] = field(default_factory=dict)
    json_schema: dict[str, Any] | None = None
    path: Path | None = None

    def render(self, **variables: Any) -> list[dict[str, Any]]:
        """Return neutral chat messages for ``variables``; raise InvalidInputError if one is missing."""
        if self.kind in CLOSED_KINDS:
            variables = _closed_variables(variables)
        try:
            system = _ENVIRONMENT.from_string(self.system).render(**variables).strip()
            user = _ENVIRONMENT.from_string(self.user).render(**variables).strip()
        except jinja2.UndefinedError as error:
            raise InvalidInputError(f"prompt template {self.id} v{self.version} needs a value: "
                                    f"{error}") from None
        messages: list[dict[str, Any]] = []
        if system:
            messages.append({"role": "system", "content": system})
        content: list[dict[str, Any]] = [{"type": "image"}] if self.image else []
        content.append({"type": "text", "text": user})
        messages.append({"role": "user", "content": content})
        return messages

    def default_settings(self, **overrides: Any) -> GenerationSettings:
        """Return the template's generation settings with ``overrides`` applied."""
        values = dict(self.settings)
        if self.json_schema is not None:
            values.setdefault("json_schema", self.json_schema)
        values.update(overrides)
        return GenerationSettings.from_dict(values)

    def request(self, *, image: Any = None, settings: GenerationSettings | None = None,
                key: Any = None, **variables: Any) -> Request:
        """Build a :class:`Request`; without ``image`` it is ready for ``answer_many``."""
        messages = self.render(**variables)
        letters: tuple[str, ...] = ()
        if self.kind in CLOSED_KINDS:
            letters = tuple(letter for letter, _ in _option_pairs(variables["options"]))
        images = (image,) if image is not None and self.image else ()
        return Request(messages=tuple(messages), images=images, valid_letters=letters,
                       settings=settings or self.default_settings(), template_id=self.id,
                       template_version=self.version, key=key)


def _option_pairs(options: Mapping[str, str] | Iterable[Sequence[str]]) -> list[tuple[str, str]]:
    pairs = list(options.items()) if isinstance(options, Mapping) else [tuple(pair) for pair in options]
    if not pairs:
        raise InvalidInputError("a closed question needs at least one option")
    for pair in pairs:
        if len(pair) != 2 or not isinstance(pair[0], str):
            raise InvalidInputError(f"option {pair!r} is not a (letter, text) pair")
    return [(str(letter), str(text)) for letter, text in pairs]


def _closed_variables(variables: dict[str, Any]) -> dict[str, Any]:
    if "options" not in variables or "question" not in variables:
        raise InvalidInputError("a closed question template needs 'question' and 'options'")
    pairs = _option_pairs(variables["options"])
    letters = [letter for letter, _ in pairs]
    return {**variables, "options": pairs, "letters": letters, "letters_phrase": letters_phrase(letters)}


# --------------------------------------------------------------------------- loading


def read_template(path: str | Path) -> PromptTemplate:
    """Parse and check one template file; raise InvalidInputError naming the file and key."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise InvalidInputError(f"prompt template {path} is not valid TOML ({error})") from None
    for key in ("id", "version", "kind", "user"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise InvalidInputError(f"prompt template {path} needs a text value for '{key}'")
    if not re.fullmatch(r"\d+(\.\d+)*", data["version"]):
        raise InvalidInputError(f"prompt template {path} has version '{data['version']}'; use numbers like 1 or 2.1")
    if data["kind"] not in KINDS:
        raise InvalidInputError(f"prompt template {path} has kind '{data['kind']}'; use one of {', '.join(KINDS)}")
    expected_name = f"{data['id']}.v{data['version']}.toml"
    if path.name != expected_name:
        raise InvalidInputError(f"prompt template {path} must be named {expected_name} (from its id and version)")
    unknown = sorted(set(data) - {"id", "version", "kind", "user", "system", "description", "image",
                                  "settings", "json_schema"})
    if unknown:
        raise InvalidInputError(f"prompt template {path} has unknown key(s) {', '.join(unknown)}")
    for key in ("system", "user"):
        try:
            _ENVIRONMENT.parse(data.get(key, ""))
        except jinja2.TemplateSyntaxError as error:
            raise InvalidInputError(f"prompt template {path}: '{key}' line {error.lineno}: {error.message}") from None
    template = PromptTemplate(
        id=data["id"], version=data["version"], kind=data["kind"], user=data["user"],
        system=data.get("system", ""), description=data.get("description", ""),
        image=bool(data.get("image", True)), settings=dict(data.get("settings", {})),
        json_schema=data.get("json_schema"), path=path,
    )
    template.default_settings()  # rejects unknown or invalid settings now, not at the first call
    return template


def available_templates(search_dirs: Sequence[str | Path] | None = None) -> list[PromptTemplate]:
    """Every template in ``search_dirs`` (default: ``resources/prompts``), sorted by id and version."""
    templates = []
    for folder in search_dirs or (PROMPTS_DIR,):
        for path in sorted(Path(folder).glob("*.toml")):
            templates.append(read_template(path))
    return sorted(templates, key=lambda t: (t.id, _version_key(t.version)))


def load_template(template_id: str, version: str | None = None,
                  search_dirs: Sequence[str | Path] | None = None) -> PromptTemplate:
    """Return template ``template_id`` at ``version`` (default: the highest version)."""
    matching = [t for t in available_templates(search_dirs) if t.id == template_id]
    if version is not None:
        matching = [t for t in matching if t.version == str(version)]
    if not matching:
        known = sorted({f"{t.id} v{t.version}" for t in available_templates(search_dirs)})
        wanted = template_id if version is None else f"{template_id} v{version}"
        raise NotFoundError(f"prompt template {wanted} not found; available: {', '.join(known) or 'none'}")
    return matching[-1]


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))
