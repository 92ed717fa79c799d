"""Loading a Hugging Face vision-language model: device, dtype, quantization, processor."""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import Any

from engine.errors import InvalidInputError, WorkbenchError

log = logging.getLogger(__name__)

DTYPES = ("auto", "bf16", "fp16", "fp32")
QUANTIZATIONS = (None, "4bit", "8bit")


def pick_device(requested: str | None = None) -> str:
    """Return ``requested`` if it is usable, else the first of cuda, mps, cpu that exists."""
    import torch

    if requested and requested != "auto":
        if requested.startswith("cuda") and not torch.cuda.is_available():
            raise InvalidInputError(f"device '{requested}' was requested but torch sees no CUDA GPU; "
                                    "use 'cpu' or install a CUDA build of torch")
        if requested == "mps" and not torch.backends.mps.is_available():
            raise InvalidInputError("device 'mps' was requested but Apple's Metal backend is not available")
        if not requested.startswith(("cuda", "mps", "cpu")):
            raise InvalidInputError(f"device '{requested}' is unknown; use auto, cpu, mps, cuda or cuda:N")
        return requested
    if torch.cuda.is_available():
        return "cuda"
    if torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def pick_dtype(name: str | None, device: str):
    """Return the torch dtype for ``name``; "auto" is bf16 on a GPU that has it, fp16 on MPS, else fp32."""
    import torch

    name = name or "auto"
    if name not in DTYPES:
        raise InvalidInputError(f"dtype '{name}' is unknown; use one of {', '.join(DTYPES)}")
    if name == "auto":
        if device.startswith("cuda"):
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float16 if device == "mps" else torch.float32
    return {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[name]


def quantization_config(quantization: str | None, device: str, compute_dtype):
    """Return a BitsAndBytesConfig for "4bit" / "8bit", or None; raise where it cannot work."""
    if quantization in (None, "", "none"):
        return None
    if quantization not in QUANTIZATIONS:
        raise InvalidInputError(f"quantization '{quantization}' is unknown; use 4bit, 8bit or none")
    if not device.startswith("cuda"):
        raise InvalidInputError(f"{quantization} loading needs a CUDA GPU (bitsandbytes), but the device "
                                f"is {device}; load without quantization or use a quantized GGUF with llama.cpp")
    if importlib.util.find_spec("bitsandbytes") is None:
        raise InvalidInputError(f"{quantization} loading needs the bitsandbytes package; install it with "
                                "'pip install bitsandbytes' or load without quantization")
    from transformers import BitsAndBytesConfig

    if quantization == "4bit":
        return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                  bnb_4bit_compute_dtype=compute_dtype)
    return BitsAndBytesConfig(load_in_8bit=True)


def load_model_and_processor(path: str | Path, *, device: str, dtype, quantization: str | None = None,
                             trust_remote_code: bool = False) -> tuple[Any, Any]:
    """Load ``AutoModelForImageTextToText`` and ``AutoProcessor`` from a local folder.

    Raises InvalidInputError for a missing folder and WorkbenchError with the library's
    message when transformers cannot load the model.
    """
    from transformers import AutoModelForImageTextToText, AutoProcessor

    path = Path(path)
    if not (path / "config.json").is_file():
        raise InvalidInputError(f"{path} is not a Hugging Face model folder (no config.json)")
    quant = quantization_config(quantization, device, dtype)
    kwargs: dict[str, Any] = {"dtype": dtype, "trust_remote_code": trust_remote_code}
    if quant is not None:
        kwargs["quantization_config"] = quant
        kwargs["device_map"] = device
    try:
        processor = AutoProcessor.from_pretrained(path, trust_remote_code=trust_remote_code)
        model = AutoModelForImageTextToText.from_pretrained(path, **kwargs)
    except ValueError as error:
        hint = "" if trust_remote_code else (" If the model ships its own code, enable trust_remote_code "
                                             "for this model only after reading that code.")
        raise WorkbenchError(f"transformers cannot load {path}: {_first_line(error)}.{hint}") from None
    except (OSError, AttributeError, ImportError) as error:
        raise WorkbenchError(f"transformers cannot load {path}: {_first_line(error)}") from None
    if quant is None:
        model = model.to(device)
    model.eval()
    if getattr(processor, "tokenizer", None) is None:
        raise WorkbenchError(f"the processor of {path} has no tokenizer; it is not a vision-language model")
    return model, processor


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0].rstrip(" .") if text else type(error).__name__
