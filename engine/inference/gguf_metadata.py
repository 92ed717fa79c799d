"""Reading the metadata of GGUF files (text models and mmproj vision projectors)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import InvalidInputError

GGUF_MAGIC = b"GGUF"


@dataclass(frozen=True)
class GGUFInfo:
    """The metadata fields the engine uses. ``kind`` is "model" or "mmproj"."""

    path: Path
    kind: str
    architecture: str
    name: str | None
    quantization: str | None
    context_length: int | None
    chat_template: str | None
    projector_type: str | None
    image_size: int | None
    patch_size: int | None


def read_gguf_info(path: str | Path, role: str = "model") -> GGUFInfo:
    """Read ``path``; raise InvalidInputError (naming the file and ``role``) if it is not valid GGUF."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"{role} file {path} does not exist")
    with path.open("rb") as handle:
        magic = handle.read(4)
    if magic != GGUF_MAGIC:
        raise InvalidInputError(f"{role} file {path} is not a GGUF file (it starts with {magic!r}, "
                                "not b'GGUF'); download or convert it again")
    from gguf import GGUFReader

    try:
        reader = GGUFReader(path)
        fields = {key: _value(field) for key, field in reader.fields.items()
                  if not key.startswith("tokenizer.ggml.") or key == "tokenizer.ggml.pre"}
        tensor_types = Counter(tensor.tensor_type.name for tensor in reader.tensors)
    except Exception as error:  # noqa: BLE001 - the reader raises many types on damaged files
        raise InvalidInputError(f"{role} file {path} is damaged or truncated ({type(error).__name__}: "
                                f"{error}); download or convert it again") from None

    architecture = str(fields.get("general.architecture", "unknown"))
    kind = "mmproj" if architecture == "clip" or fields.get("general.type") == "mmproj" else "model"
    return GGUFInfo(
        path=path, kind=kind, architecture=architecture, name=fields.get("general.name"),
        quantization=_quantization(fields.get("general.file_type"), tensor_types),
        context_length=_int(fields.get(f"{architecture}.context_length")),
        chat_template=fields.get("tokenizer.chat_template"),
        projector_type=fields.get("clip.projector_type") or fields.get("clip.vision.projector_type"),
        image_size=_int(fields.get("clip.vision.image_size")),
        patch_size=_int(fields.get("clip.vision.patch_size")),
    )


def _value(field) -> Any:  # noqa: ANN001 - gguf ReaderField
    try:
        return field.contents()
    except (ValueError, IndexError, TypeError):
        return None


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) else None


def _quantization(file_type: Any, tensor_types: Counter) -> str | None:
    """Return "Q4_K_M", "F16", ... from ``general.file_type``, else the commonest tensor type."""
    from gguf import LlamaFileType

    if isinstance(file_type, int):
        try:
            name = LlamaFileType(file_type).name
        except ValueError:
            name = None
        if name and name != "GUESSED":
            return name.removeprefix("MOSTLY_").removeprefix("ALL_")
    if tensor_types:
        return tensor_types.most_common(1)[0][0]
    return None
