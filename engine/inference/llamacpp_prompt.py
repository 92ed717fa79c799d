"""Rendering a chat for llama.cpp and cutting it into text and image segments with libmtmd.

The rendering mirrors the handlers of llama-cpp-python 0.3.36, so a prompt is the same
whether the engine evaluates it or the library's ``create_chat_completion`` does.
LLaVA-family handlers (and the Qwen2.5-VL one) render their class attribute
``CHAT_FORMAT`` and add ``DEFAULT_SYSTEM_MESSAGE`` when the chat has no system message.
The generic MTMD handler renders the chat template stored in the GGUF. Image parts
become libmtmd's media marker. Image bytes go to libmtmd directly, so no URL is ever
opened, whereas the library's own ``load_image`` fetches any URL that is not a ``data:`` URI.
"""

from __future__ import annotations

import contextlib
import ctypes
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

from engine.errors import InvalidInputError, WorkbenchError
from engine.inference.images import PreparedImage


@dataclass(frozen=True)
class Segment:
    """A run of text tokens or one image in a tokenized prompt.

    ``key`` identifies the content for prefix matching: the token ids of a text run, or the
    image hash and token count. ``n_pos`` is the number of positions the segment takes in
    the context (for M-RoPE models an image takes fewer positions than tokens).
    """

    kind: str
    key: tuple
    tokens: tuple[int, ...]
    n_tokens: int
    n_pos: int
    chunk: Any = None


class PromptBuilder:
    """Renders and tokenizes prompts for one loaded ``Llama`` and chat handler."""

    def __init__(self, llama, handler_name: str, handler_class, handler, mmproj_name: str | None,
                 chat_template_kwargs: dict[str, Any] | None = None, verbose: bool = False) -> None:
        import llama_cpp.mtmd_cpp as mtmd_cpp

        self.llama = llama
        self.handler_name = handler_name
        self.handler_class = handler_class
        self.handler = handler
        self.mmproj_name = mmproj_name
        self.chat_template_kwargs = dict(chat_template_kwargs or {})
        self.verbose = verbose
        self.mtmd = mtmd_cpp
        self.marker = mtmd_cpp.mtmd_default_marker().decode("utf-8")

    # ------------------------------------------------------------------ rendering

    def render(self, messages: Sequence[dict[str, Any]]) -> str:
        """Return the prompt text, with one media marker per image part."""
        if self.handler_name == "mtmd" or self.handler_name == "gemma4":
            return self._render_gguf_template(messages)
        return self._render_handler_format(messages)

    def _render_handler_format(self, messages: Sequence[dict[str, Any]]) -> str:
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        converted = [self._convert(message, image_part={"type": "image_url",
                                                        "image_url": {"url": self.marker}})
                     for message in messages]
        has_system = any(message["role"] == "system" and message.get("content") for message in converted)
        default_system = getattr(self.handler_class, "DEFAULT_SYSTEM_MESSAGE", None)
        if not has_system and default_system is not None:
            converted.insert(0, {"role": "system", "content": default_system})
        template = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True).from_string(
            self.handler_class.CHAT_FORMAT)
        return template.render(messages=converted, add_generation_prompt=True,
                               eos_token=self._token_text(self.llama.token_eos()),
                               bos_token=self._token_text(self.llama.token_bos()))

    def _render_gguf_template(self, messages: Sequence[dict[str, Any]]) -> str:
        import jinja2.ext
        from jinja2.sandbox import ImmutableSandboxedEnvironment
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        source = self.llama.metadata.get("tokenizer.chat_template")
        if not source:
            raise InvalidInputError(f"{self.llama.model_path} has no chat template in its GGUF metadata; "
                                    "set the model's chat_handler setting (for example llava-1-5)")
        environment = ImmutableSandboxedEnvironment(
            trim_blocks=True, lstrip_blocks=True,
            extensions=[Jinja2ChatFormatter.IgnoreGenerationTags, jinja2.ext.loopcontrols])
        environment.filters["tojson"] = Jinja2ChatFormatter.tojson

        def raise_exception(message: str):
            raise InvalidInputError(f"the model's chat template rejected the prompt: {message}")

        converted = [self._convert(message, image_part={"type": "text", "text": self.marker})
                     for message in messages]
        return environment.from_string(source).render(
            messages=converted, add_generation_prompt=True,
            eos_token=self._token_text(self.llama.token_eos()),
            bos_token=self._token_text(self.llama.token_bos()),
            raise_exception=raise_exception, strftime_now=Jinja2ChatFormatter.strftime_now,
            functions=None, function_call=None, tools=None, tool_choice=None,
            **self.chat_template_kwargs)

    @staticmethod
    def _convert(message: dict[str, Any], image_part: dict[str, Any]) -> dict[str, Any]:
        content = message.get("content")
        if isinstance(content, list):
            content = [dict(image_part) if part.get("type") == "image" else dict(part) for part in content]
        return {"role": message["role"], "content": content}

    def _token_text(self, token: int) -> str:
        if token is None or token < 0:
            return ""
        return self.llama.detokenize([token]).decode("utf-8", errors="ignore")

    # ------------------------------------------------------------------ tokenizing

    @contextlib.contextmanager
    def segments(self, text: str, images: Sequence[PreparedImage]) -> Iterator[list[Segment]]:
        """Yield the prompt's segments; image chunks stay valid inside the ``with`` block."""
        if text.count(self.marker) != len(images):
            raise WorkbenchError(f"the rendered prompt has {text.count(self.marker)} image markers "
                                 f"but {len(images)} image(s); the chat template dropped an image part")
        if not images:
            tokens = tuple(self.llama.tokenize(text.encode("utf-8"), add_bos=True, special=True))
            yield [Segment("text", ("text", tokens), tokens, len(tokens), len(tokens))]
            return
        if self.handler is None:
            raise InvalidInputError(f"model {self.llama.model_path} has no mmproj (vision projector) "
                                    "file; register it with an mmproj to send images")
        self._init_mtmd()
        with self._chunks(text, images) as chunks:
            yield self._read_chunks(chunks)

    def _init_mtmd(self) -> None:
        try:
            self.handler._init_mtmd_context(self.llama)
        except ValueError as error:
            raise InvalidInputError(f"mmproj {self.mmproj_name} could not be loaded with model "
                                    f"{self.llama.model_path} ({error}); check that the mmproj belongs "
                                    "to this model") from None

    @contextlib.contextmanager
    def _chunks(self, text: str, images: Sequence[PreparedImage]):
        from llama_cpp._utils import suppress_stdout_stderr

        mtmd, ctx = self.mtmd, self.handler.mtmd_ctx
        bitmaps = []
        chunks = None
        try:
            with suppress_stdout_stderr(disable=self.verbose):
                for image in images:
                    bitmap = self.handler._create_bitmap_from_bytes(image.png)
                    bitmaps.append(bitmap)
                    mtmd.mtmd_bitmap_set_id(bitmap, image.sha256.encode("ascii"))
                encoded = text.encode("utf-8")
                input_text = mtmd.mtmd_input_text()
                input_text.text = encoded
                input_text.text_len = len(encoded)
                input_text.add_special = True
                input_text.parse_special = True
                chunks = mtmd.mtmd_input_chunks_init()
                array = (mtmd.mtmd_bitmap_p_ctypes * len(bitmaps))(*bitmaps)
                status = mtmd.mtmd_tokenize(ctx, chunks, ctypes.byref(input_text), array, len(bitmaps))
            if status != 0:
                raise WorkbenchError(f"libmtmd could not tokenize the prompt (error {status})")
            yield chunks
        finally:
            if chunks is not None:
                mtmd.mtmd_input_chunks_free(chunks)
            for bitmap in bitmaps:
                mtmd.mtmd_bitmap_free(bitmap)

    def _read_chunks(self, chunks) -> list[Segment]:
        mtmd = self.mtmd
        segments = []
        for index in range(mtmd.mtmd_input_chunks_size(chunks)):
            chunk = mtmd.mtmd_input_chunks_get(chunks, index)
            if chunk is None:
                continue
            if mtmd.mtmd_input_chunk_get_type(chunk) == mtmd.MTMD_INPUT_CHUNK_TYPE_TEXT:
                count = ctypes.c_size_t()
                pointer = mtmd.mtmd_input_chunk_get_tokens_text(chunk, ctypes.byref(count))
                tokens = tuple(pointer[i] for i in range(count.value)) if pointer else ()
                if tokens:
                    segments.append(Segment("text", ("text", tokens), tokens, len(tokens), len(tokens)))
            else:
                n_tokens = mtmd.mtmd_input_chunk_get_n_tokens(chunk)
                chunk_id = (mtmd.mtmd_input_chunk_get_id(chunk) or b"").decode("ascii", errors="replace")
                segments.append(Segment("image", ("image", chunk_id, n_tokens), (), n_tokens,
                                        mtmd.mtmd_input_chunk_get_n_pos(chunk), chunk))
        return segments
