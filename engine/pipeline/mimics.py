"""The diagnosis table: each tumour class's answer text and its imaging mimics.

Read from ``resources/pipeline/mimics.toml``; see that file for the rules it must follow.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from engine.errors import InvalidInputError
from engine.pipeline.vocabulary import comparison_key
from resources import RESOURCES_DIR

MIMICS_FILE = RESOURCES_DIR / "pipeline" / "mimics.toml"
MIN_MIMICS = 4  # three shown options plus one for trap items


@dataclass(frozen=True)
class Diagnosis:
    answer: str
    mimics: tuple[str, ...]


@dataclass(frozen=True)
class MimicTable:
    classes: dict[str, Diagnosis]
    default_mimics: tuple[str, ...]

    def diagnosis(self, tumour_class: str) -> Diagnosis:
        """Return the answer and mimics of a class; unlisted classes use the default mimics."""
        if tumour_class in self.classes:
            return self.classes[tumour_class]
        answer = tumour_class.replace("_", " ").capitalize()
        own = comparison_key(answer)
        mimics = tuple(text for text in self.default_mimics
                       if own not in comparison_key(text) and comparison_key(text) not in own)
        return Diagnosis(answer, mimics)


@lru_cache(maxsize=4)
def load_mimics(path: Path = MIMICS_FILE) -> MimicTable:
    """Read and check the mimic table. Raises InvalidInputError naming the bad entry."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise InvalidInputError(f"mimic table {path} cannot be read ({error})") from None
    classes = {}
    for name, row in data.get("classes", {}).items():
        answer, mimics = row.get("answer"), tuple(row.get("mimics", ()))
        if not isinstance(answer, str) or len(mimics) < MIN_MIMICS:
            raise InvalidInputError(f"mimic table {path}: class {name!r} needs an answer and "
                                    f"at least {MIN_MIMICS} mimics")
        keys = [comparison_key(text) for text in (answer, *mimics)]
        if len(set(keys)) != len(keys):
            raise InvalidInputError(f"mimic table {path}: class {name!r} repeats an option")
        classes[name] = Diagnosis(answer, mimics)
    default = tuple(data.get("default", {}).get("mimics", ()))
    if len(default) < MIN_MIMICS + 1:
        raise InvalidInputError(f"mimic table {path}: [default] needs at least "
                                f"{MIN_MIMICS + 1} mimics")
    return MimicTable(classes, default)
