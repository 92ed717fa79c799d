"""Convert a Hugging Face model folder to GGUF with llama.cpp's own converter.

The converter (``convert_hf_to_gguf.py`` with its ``conversion/`` and ``gguf-py/``
folders) ships in llama-cpp-python's source distribution, not in its wheel;
``installer/setup.sh`` extracts it to ``<venv>/share/neuroonco/llama.cpp``. It runs in a
subprocess because it imports its own ``gguf`` copy and changes global logging.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

from engine.errors import InvalidInputError, WorkbenchError

log = logging.getLogger(__name__)

ENV_VAR = "NEUROONCO_LLAMA_CPP_DIR"
WRAPPER = Path(__file__).with_name("convert_wrapper.py")
OUTTYPES = ("f32", "f16", "bf16", "q8_0", "auto")


def converter_dir() -> Path:
    """Return the folder that contains ``convert_hf_to_gguf.py``.

    ``$NEUROONCO_LLAMA_CPP_DIR`` wins; otherwise ``<sys.prefix>/share/neuroonco/llama.cpp``.
    Raises WorkbenchError when the converter is not there.
    """
    configured = os.environ.get(ENV_VAR)
    folder = Path(configured) if configured else Path(sys.prefix) / "share" / "neuroonco" / "llama.cpp"
    if not (folder / "convert_hf_to_gguf.py").is_file():
        raise WorkbenchError(
            f"llama.cpp's GGUF converter was not found in {folder}; run installer/setup.sh "
            f"(it extracts it from the llama-cpp-python source distribution) or set {ENV_VAR} "
            "to a llama.cpp checkout"
        )
    return folder


def convert_hf_to_gguf(model_dir: str | Path, outfile: str | Path, *, mmproj: bool = False,
                       outtype: str = "f16", pre_tokenizer_fallback: str | None = None,
                       timeout_s: float | None = None) -> Path:
    """Write ``outfile``: the text model (or with ``mmproj`` the vision projector) as GGUF.

    ``pre_tokenizer_fallback`` names the llama.cpp pre-tokenizer to use when the converter
    does not recognise the tokenizer (see ``convert_wrapper.py``); leave it None for
    published models. Raises InvalidInputError for a bad folder or type and WorkbenchError
    with the converter's last output lines when it fails.
    """
    model_dir = Path(model_dir)
    outfile = Path(outfile)
    if not (model_dir / "config.json").is_file():
        raise InvalidInputError(f"{model_dir} has no config.json; pass a Hugging Face model folder")
    if outtype not in OUTTYPES:
        raise InvalidInputError(f"GGUF type '{outtype}' is not supported; use one of {', '.join(OUTTYPES)}")
    outfile.parent.mkdir(parents=True, exist_ok=True)

    command = [sys.executable, str(WRAPPER), str(converter_dir()), pre_tokenizer_fallback or "-", "--",
               str(model_dir), "--outfile", str(outfile), "--outtype", outtype]
    if mmproj:
        command.append("--mmproj")
    log.info("converting %s to %s", model_dir, outfile)
    try:
        finished = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        outfile.unlink(missing_ok=True)
        raise WorkbenchError(f"converting {model_dir} to GGUF timed out after {timeout_s} s") from None
    if finished.returncode != 0 or not outfile.is_file():
        outfile.unlink(missing_ok=True)
        tail = " | ".join(line for line in finished.stderr.strip().splitlines()[-3:] if line.strip())
        raise WorkbenchError(f"converting {model_dir} to GGUF failed (exit {finished.returncode}): {tail}")
    return outfile
