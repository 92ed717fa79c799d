"""Model weight files: which files count, their SHA-256, and family / quantization detection."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Iterable

from engine.errors import InvalidInputError
from engine.inference.gguf_metadata import GGUFInfo
from engine.progress import NullProgress, Progress

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")
CHUNK_BYTES = 1 << 20  # one progress unit per MiB

# mmproj projector types -> the Hugging Face model_type of the family they belong to.
PROJECTOR_FAMILIES = {
    "qwen2vl_merger": "qwen2_vl", "qwen2.5vl_merger": "qwen2_5_vl", "qwen3vl_merger": "qwen3_vl",
    "gemma3": "gemma3", "idefics3": "idefics3", "minicpmv": "minicpmv", "pixtral": "pixtral",
    "mlp": "llava", "mlp_norm": "llava", "ldp": "mobilevlm", "ldpv2": "mobilevlm",
}
TORCH_DTYPE_NAMES = {"bfloat16": "bf16", "float16": "fp16", "float32": "fp32"}


def weight_files(path: str | Path) -> list[Path]:
    """Return the weight files of a model folder (sorted, recursive) or the file itself."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise InvalidInputError(f"{path} does not exist")
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in WEIGHT_SUFFIXES
                   and ".cache" not in p.relative_to(path).parts)
    if not files:
        raise InvalidInputError(f"{path} contains no weight files ({', '.join(WEIGHT_SUFFIXES)})")
    return files


def sha256_files(files: Iterable[Path], names: Iterable[str], progress: Progress | None = None) -> dict[str, str]:
    """Return {name: SHA-256 hex} of ``files``, advancing ``progress`` once per MiB read."""
    files, names = list(files), list(names)
    progress = progress or NullProgress()
    total = sum(max(1, -(-file.stat().st_size // CHUNK_BYTES)) for file in files)
    progress.start(total, "hashing model weights")
    hashes = {}
    for file, name in zip(files, names):
        digest = hashlib.sha256()
        units = 0
        with file.open("rb") as handle:
            while chunk := handle.read(CHUNK_BYTES):
                digest.update(chunk)
                units += 1
                progress.advance(message=f"hashing {name}")
        if units == 0:
            progress.advance(message=f"hashing {name}")
        hashes[name] = digest.hexdigest()
    return hashes


def combined_sha256(file_hashes: dict[str, str]) -> str:
    """Return one hash for a model.

    A single file keeps its own SHA-256 (what ``sha256sum`` prints). Several files get the
    SHA-256 of the ``sha256sum``-style manifest ``"<hash>  <name>\\n"`` sorted by name.
    """
    if len(file_hashes) == 1:
        return next(iter(file_hashes.values()))
    manifest = "".join(f"{digest}  {name}\n" for name, digest in sorted(file_hashes.items()))
    return hashlib.sha256(manifest.encode("utf-8")).hexdigest()


def hash_model(path: str | Path, mmproj_path: str | Path | None = None,
               progress: Progress | None = None) -> tuple[str, dict[str, str]]:
    """Return (combined hash, per-file hashes) of a model folder or GGUF file (+ mmproj)."""
    path = Path(path)
    files = weight_files(path)
    names = [file.relative_to(path).as_posix() if path.is_dir() else file.name for file in files]
    if mmproj_path is not None:
        files.append(Path(mmproj_path))
        names.append("mmproj:" + Path(mmproj_path).name)
    hashes = sha256_files(files, names, progress)
    return combined_sha256(hashes), hashes


def detect_transformers(folder: str | Path) -> tuple[str | None, str | None]:
    """Return (family, quantization) from a model folder's config.json.

    Family is the config's ``model_type`` (for example ``qwen2_5_vl``); quantization is
    ``<method>-<bits>bit`` for pre-quantized checkpoints, else the stored dtype (bf16...).
    """
    config_path = Path(folder) / "config.json"
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InvalidInputError(f"{config_path} cannot be read ({error})") from None
    family = config.get("model_type")
    quant = config.get("quantization_config")
    if isinstance(quant, dict):
        method = quant.get("quant_method", "quantized")
        bits = quant.get("bits")
        if bits is None and quant.get("load_in_4bit"):
            bits = 4
        elif bits is None and quant.get("load_in_8bit"):
            bits = 8
        return family, f"{method}-{bits}bit" if bits else str(method)
    dtype = config.get("dtype") or config.get("torch_dtype") or (config.get("text_config") or {}).get("dtype")
    return family, TORCH_DTYPE_NAMES.get(str(dtype), dtype)


def detect_gguf_family(model: GGUFInfo, mmproj: GGUFInfo | None) -> str:
    """Return the family of a GGUF pair: from the projector type when known, else the text architecture."""
    if mmproj is not None and mmproj.projector_type in PROJECTOR_FAMILIES:
        return PROJECTOR_FAMILIES[mmproj.projector_type]
    return model.architecture
