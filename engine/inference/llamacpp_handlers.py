"""Choosing llama-cpp-python's multimodal chat handler and sizing the context for images.

Handler classes of llama-cpp-python 0.3.36 (``llama_cpp.llama_chat_format``), by the name
used in a model's ``chat_handler`` setting (the same names as the server's ``chat_format``).
"""

from __future__ import annotations

import math

from engine.errors import InvalidInputError
from engine.inference.gguf_metadata import GGUFInfo

HANDLER_CLASSES = {
    "mtmd": "MTMDChatHandler",
    "qwen2.5-vl": "Qwen25VLChatHandler",
    "llava-1-5": "Llava15ChatHandler",
    "llava-1-6": "Llava16ChatHandler",
    "minicpm-v-2.6": "MiniCPMv26ChatHandler",
    "moondream": "MoondreamChatHandler",
    "nanollava": "NanoLlavaChatHandler",
    "llama-3-vision-alpha": "Llama3VisionAlphaChatHandler",
    "gemma4": "Gemma4ChatHandler",
}

# mmproj ``clip.projector_type`` values of the LLaVA family (LLaVA 1.5 MLP, MobileVLM LDP).
LLAVA_PROJECTORS = ("mlp", "mlp_norm", "ldp", "ldpv2")
# Projectors whose image-token count grows with the image size (2 x 2 patches per token).
DYNAMIC_RESOLUTION_PROJECTORS = ("qwen2vl_merger", "qwen2.5vl_merger", "qwen3vl_merger")

# Tokens kept free for the text of a prompt and the answer when sizing the context.
TEXT_MARGIN_TOKENS = 2048


def choose_handler(model: GGUFInfo, mmproj: GGUFInfo | None, override: str | None = None) -> str:
    """Return a handler name from ``HANDLER_CLASSES``.

    ``override`` wins. Otherwise a Qwen2.5-VL projector gets the Qwen2.5-VL handler and a
    MiniCPM-V projector its own handler. A model with a chat template in its GGUF gets the
    generic libmtmd handler, which renders that template. A LLaVA-family projector without
    a template gets the LLaVA 1.5 handler. Raises InvalidInputError when none fits.
    """
    if override:
        if override not in HANDLER_CLASSES:
            raise InvalidInputError(f"chat handler '{override}' is unknown; use one of "
                                    f"{', '.join(HANDLER_CLASSES)}")
        return override
    projector = (mmproj.projector_type if mmproj else None) or ""
    if projector == "qwen2.5vl_merger":
        return "qwen2.5-vl"
    if projector == "minicpmv":
        return "minicpm-v-2.6"
    if model.chat_template:
        return "mtmd"
    if projector in LLAVA_PROJECTORS:
        return "llava-1-5"
    raise InvalidInputError(
        f"cannot choose a chat handler for {model.path.name}: the GGUF has no chat template and the "
        f"projector type '{projector or 'none'}' is not a LLaVA one; set the model's chat_handler "
        f"setting to one of {', '.join(HANDLER_CLASSES)}")


def handler_class(name: str):
    import llama_cpp.llama_chat_format as chat_format

    return getattr(chat_format, HANDLER_CLASSES[name])


def estimate_image_tokens(mmproj: GGUFInfo | None, max_pixels: int | None) -> int:
    """Estimate an upper bound of the tokens one image becomes (0 without an mmproj).

    Dynamic-resolution projectors (Qwen2-VL family) emit one token per 2 x 2 patches of
    the resized image. Fixed-size towers emit at most one token per patch of their input size.
    """
    if mmproj is None:
        return 0
    patch = mmproj.patch_size or 14
    if mmproj.projector_type in DYNAMIC_RESOLUTION_PROJECTORS and max_pixels:
        return math.ceil(max_pixels / (patch * patch * 4))
    if mmproj.image_size:
        return (mmproj.image_size // patch) ** 2
    return 1024


def default_context_size(model: GGUFInfo, mmproj: GGUFInfo | None, max_pixels: int | None,
                         images_per_prompt: int = 1) -> int:
    """Return a context length for one image plus :data:`TEXT_MARGIN_TOKENS`, capped by the model's own."""
    wanted = TEXT_MARGIN_TOKENS + images_per_prompt * estimate_image_tokens(mmproj, max_pixels)
    wanted = 256 * math.ceil(wanted / 256)
    if model.context_length:
        return min(wanted, model.context_length)
    return wanted
