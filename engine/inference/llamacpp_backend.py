"""The llama.cpp backend: a GGUF text model plus an mmproj GGUF through llama-cpp-python.

The engine evaluates prompts itself (libmtmd for images, ``Llama.eval`` for text) instead
of calling ``create_chat_completion``. The library's handlers clear the KV cache on every
call, so an image could not be reused across questions, and they do not expose the logits
of the prompt's last token, which letter probabilities need. Text is then sampled by
``Llama.create_completion`` on the evaluated prompt, which keeps llama.cpp's own sampler
and JSON grammars.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from engine.errors import InvalidInputError, WorkbenchError
from engine.inference import letters as letter_math
from engine.inference.base import InferenceBackend
from engine.inference.gguf_metadata import read_gguf_info
from engine.inference.images import DEFAULT_MAX_PIXELS, PreparedImage
from engine.inference.llamacpp_handlers import choose_handler, default_context_size, handler_class
from engine.inference.llamacpp_prompt import PromptBuilder, Segment
from engine.inference.types import Mode, Request, Result

log = logging.getLogger(__name__)


class LlamaCppBackend(InferenceBackend):
    """A GGUF model with an optional mmproj vision projector.

    ``chat_handler`` overrides the handler chosen from the GGUF metadata (names in
    ``llamacpp_handlers.HANDLER_CLASSES``). ``n_ctx`` None sizes the context for one image
    at ``max_pixels`` plus 2048 text tokens, capped by the model's trained context.
    ``n_gpu_layers`` layers go to the GPU (-1: all; 0: CPU only). ``reuse_prefix`` lets
    ``answer_many`` keep the evaluated system prompt and image in the KV cache across
    questions; ``generate`` and ``letter_probabilities`` always start from an empty cache.
    One backend serves one thread at a time, because the KV cache and its bookkeeping are
    shared state.
    """

    backend_name = "llama.cpp"

    def __init__(self, model_path: str | Path, mmproj_path: str | Path | None = None, *,
                 chat_handler: str | None = None, n_ctx: int | None = None, n_gpu_layers: int = 0,
                 n_threads: int | None = None, n_batch: int = 512, reuse_prefix: bool = True,
                 chat_template_kwargs: dict[str, Any] | None = None,
                 max_pixels: int | None = DEFAULT_MAX_PIXELS, verbose: bool = False,
                 model_info: dict[str, Any] | None = None) -> None:
        model = read_gguf_info(model_path, "model")
        if model.kind != "model":
            raise InvalidInputError(f"{model_path} is a vision projector (mmproj), not a text model; "
                                    "pass it as the mmproj file")
        mmproj = None
        if mmproj_path is not None:
            mmproj = read_gguf_info(mmproj_path, "mmproj")
            if mmproj.kind != "mmproj":
                raise InvalidInputError(f"mmproj file {mmproj_path} is a text model ({mmproj.architecture}), "
                                        "not a vision projector")
        super().__init__({"path": str(model_path), "mmproj_path": str(mmproj_path) if mmproj_path else None,
                          "quantization": model.quantization, **(model_info or {})}, max_pixels)
        self.gguf = model
        self.mmproj = mmproj
        self.handler_name = choose_handler(model, mmproj, chat_handler)
        self.n_ctx = int(n_ctx) if n_ctx else default_context_size(model, mmproj, max_pixels)
        self.n_gpu_layers = int(n_gpu_layers)
        self.reuse_prefix = reuse_prefix
        self.verbose = verbose
        self.llama = self._load(model_path, n_threads, n_batch)
        klass = handler_class(self.handler_name)
        handler = klass(clip_model_path=str(mmproj_path), verbose=verbose) if mmproj_path else None
        self.prompts = PromptBuilder(self.llama, self.handler_name, klass, handler,
                                     str(mmproj_path) if mmproj_path else None,
                                     chat_template_kwargs, verbose)
        self._evaluated: list[tuple[tuple, int]] = []  # (segment key, end position) in the KV cache
        self._letter_table: dict[str, tuple[int, ...]] | None = None

    def _load(self, model_path: str | Path, n_threads: int | None, n_batch: int):
        from llama_cpp import Llama

        threads = n_threads or max(1, (os.cpu_count() or 2))
        try:
            return Llama(model_path=str(model_path), n_ctx=self.n_ctx, n_gpu_layers=self.n_gpu_layers,
                         n_threads=threads, n_batch=n_batch, n_ubatch=n_batch, logits_all=False,
                         verbose=self.verbose)
        except ValueError as error:
            raise InvalidInputError(f"llama.cpp could not load {model_path} ({error}); the file may be "
                                    "damaged or need a newer llama-cpp-python") from None

    def options(self) -> dict[str, Any]:
        return {**super().options(), "chat_handler": self.handler_name, "n_ctx": self.n_ctx,
                "n_gpu_layers": self.n_gpu_layers, "reuse_prefix": self.reuse_prefix}

    def close(self) -> None:
        if getattr(self, "llama", None) is not None:
            self.llama.close()
            self.llama = None

    # ------------------------------------------------------------------ requests

    def _run(self, requests: list[Request], mode: Mode) -> list[Result]:
        results = []
        for request in requests:
            self._evaluated = []  # independent requests never share cached state
            results.append(self._answer(request, self._images(request), mode))
        return results

    def _run_shared(self, requests: list[Request], mode: Mode, image: PreparedImage) -> list[Result]:
        if not self.reuse_prefix:
            return self._run(requests, mode)
        # The cache is kept across calls: segments are keyed by content (an image by its pixel
        # hash), so the next slice reuses at least the system prompt and never a stale image.
        return [self._answer(request, [image], mode) for request in requests]

    def _answer(self, request: Request, images: list[PreparedImage], mode: Mode) -> Result:
        result = self._result(request, images)
        text = self.prompts.render(request.messages)
        started = time.perf_counter()
        with self.prompts.segments(text, images) as segments:
            self._check_context(segments, request, mode)
            result.cached_tokens = self._evaluate(segments)
        result.timings.prefill_s = time.perf_counter() - started
        result.prompt_tokens = sum(segment.n_tokens for segment in segments)
        if request.valid_letters:
            self._fill_letters(result, request, self._last_logits())
        if mode == "generate":
            self._complete(result, request)
        return result

    def _check_context(self, segments: Sequence[Segment], request: Request, mode: Mode) -> None:
        positions = sum(segment.n_pos for segment in segments)
        image_tokens = sum(segment.n_tokens for segment in segments if segment.kind == "image")
        needed = positions + (request.settings.max_new_tokens if mode == "generate" else 0)
        if needed > self.n_ctx:
            raise InvalidInputError(
                f"the prompt needs {needed} context positions ({image_tokens} image tokens, "
                f"{request.settings.max_new_tokens if mode == 'generate' else 0} new tokens) but n_ctx "
                f"is {self.n_ctx}; raise the model's n_ctx setting or lower max_pixels")

    # ------------------------------------------------------------------ evaluation

    def _evaluate(self, segments: Sequence[Segment]) -> int:
        """Bring the KV cache to ``segments``, reusing the longest cached prefix.

        Returns the number of reused positions. At least one token is always evaluated,
        so the logits belong to this prompt.
        """
        import llama_cpp
        from llama_cpp._utils import suppress_stdout_stderr

        keep_segments, keep_pos, partial = self._common_prefix(segments)
        llama = self.llama
        llama.n_tokens = keep_pos
        llama._ctx.kv_cache_seq_rm(-1, keep_pos, -1)
        evaluated = self._evaluated[:keep_segments]
        position = keep_pos
        for index in range(keep_segments, len(segments)):
            segment = segments[index]
            if segment.kind == "text":
                tokens = list(segment.tokens[partial:]) if index == keep_segments else list(segment.tokens)
                llama.eval(tokens)
            else:
                new_position = llama_cpp.llama_pos(0)
                with suppress_stdout_stderr(disable=self.verbose):
                    status = self.prompts.mtmd.mtmd_helper_eval_chunk_single(
                        self.prompts.handler.mtmd_ctx, llama._ctx.ctx, segment.chunk,
                        llama_cpp.llama_pos(llama.n_tokens), llama_cpp.llama_seq_id(0),
                        llama.n_batch, False, ctypes.byref(new_position))
                if status != 0:
                    raise WorkbenchError(f"libmtmd failed to evaluate an image (error {status}); "
                                         "the image may not fit n_batch or n_ctx")
                llama.n_tokens = new_position.value
            position = llama.n_tokens
            evaluated.append((segment.key, position))
        if segments[-1].kind != "text":
            raise WorkbenchError("the prompt ends with an image; the chat template must end with text")
        self._evaluated = evaluated
        return keep_pos

    def _common_prefix(self, segments: Sequence[Segment]) -> tuple[int, int, int]:
        """Return (segments fully cached, cached positions, tokens cached of the next text segment)."""
        keep_segments, keep_pos = 0, 0
        for (key, end), segment in zip(self._evaluated, segments):
            if key != segment.key:
                break
            keep_segments += 1
            keep_pos = end
        partial = 0
        if keep_segments < len(segments) and keep_segments < len(self._evaluated):
            cached_key = self._evaluated[keep_segments][0]
            segment = segments[keep_segments]
            if segment.kind == "text" and cached_key[0] == "text":
                for old, new in zip(cached_key[1], segment.tokens):
                    if old != new:
                        break
                    partial += 1
                partial = min(partial, len(segment.tokens) - 1)
                keep_pos += partial
        if keep_segments == len(segments):
            # The whole prompt is cached: evaluate its last token again to get fresh logits.
            last = segments[-1]
            keep_segments -= 1
            keep_pos -= 1
            partial = last.n_tokens - 1
        return keep_segments, keep_pos, partial

    def _last_logits(self) -> np.ndarray:
        import llama_cpp

        pointer = llama_cpp.llama_get_logits_ith(self.llama._ctx.ctx, -1)
        return np.ctypeslib.as_array(pointer, shape=(self.llama.n_vocab(),)).copy()

    # ------------------------------------------------------------------ letters and text

    def _letter_ids(self, letters: Sequence[str]) -> dict[str, tuple[int, ...]]:
        if self._letter_table is None:
            import llama_cpp

            vocab = self.llama._model.vocab
            pairs = []
            for token in range(self.llama.n_vocab()):
                if llama_cpp.llama_vocab_is_control(vocab, token) or llama_cpp.llama_vocab_is_eog(vocab, token):
                    continue
                pairs.append((token, self.llama.detokenize([token]).decode("utf-8", errors="replace")))
            self._letter_table = letter_math.letter_token_table(pairs)
        return letter_math.ids_for_letters(self._letter_table, letters)

    def _fill_letters(self, result: Result, request: Request, logits: np.ndarray) -> None:
        ids = self._letter_ids(request.valid_letters)
        result.letter_probs, result.letter_mass = letter_math.from_logits(logits, ids)
        result.letter_method = "logits"

    def _complete(self, result: Result, request: Request) -> None:
        settings = request.settings
        grammar = None
        if settings.json_schema is not None:
            from llama_cpp import LlamaGrammar

            grammar = LlamaGrammar.from_json_schema(json.dumps(settings.json_schema), verbose=self.verbose)
        prompt = self.llama.input_ids[: self.llama.n_tokens].tolist()
        started = time.perf_counter()
        completion = self.llama.create_completion(
            prompt=prompt, max_tokens=settings.max_new_tokens, temperature=settings.temperature,
            top_p=settings.top_p, top_k=0, min_p=0.0, repeat_penalty=1.0, seed=settings.seed,
            stop=list(settings.stop) or None, grammar=grammar)
        result.timings.decode_s = time.perf_counter() - started
        choice = completion["choices"][0]
        result.text = choice["text"]
        result.finish_reason = choice.get("finish_reason")
        result.completion_tokens = int(completion["usage"]["completion_tokens"])
