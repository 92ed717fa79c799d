"""The transformers backend: ``AutoModelForImageTextToText`` + ``AutoProcessor``."""

from __future__ import annotations

import copy
import logging
import time
from pathlib import Path
from typing import Any, Sequence


from engine.errors import WorkbenchError
from engine.inference import letters as letter_math
from engine.inference.base import InferenceBackend
from engine.inference.hf_adapters import AdapterSet
from engine.inference.hf_loading import load_model_and_processor, pick_device, pick_dtype
from engine.inference.images import DEFAULT_MAX_PIXELS, PreparedImage
from engine.inference.types import GenerationSettings, Mode, Request, Result

log = logging.getLogger(__name__)

DTYPE_NAMES = {"torch.bfloat16": "bf16", "torch.float16": "fp16", "torch.float32": "fp32"}


def _cache_keyword() -> str:
    # transformers 5.x renamed ``past_key_values`` to ``cache`` (the old name still works but warns).
    try:
        from transformers.generation.utils import ALL_CACHE_NAMES  # noqa: F401
    except ImportError:
        return "past_key_values"
    return "cache"


class TransformersBackend(InferenceBackend):
    """A local Hugging Face model on cuda, mps or cpu.

    ``device`` None or "auto" picks cuda, then mps, then cpu. ``dtype`` is auto, bf16,
    fp16 or fp32. ``quantization`` "4bit" / "8bit" needs CUDA and bitsandbytes.
    ``trust_remote_code`` runs code shipped with the model and stays off unless enabled for
    that model. ``batch_size`` rows run together in ``generate`` and ``letter_probabilities``
    (left padding). ``reuse_prefix`` lets ``answer_many`` compute the shared prefix (system
    prompt and image) once and copy its KV cache for each question. Use one backend per
    thread; adapter switching changes shared state.
    """

    backend_name = "transformers"

    def __init__(self, path: str | Path, *, device: str | None = None, dtype: str | None = "auto",
                 quantization: str | None = None, trust_remote_code: bool = False,
                 batch_size: int = 4, reuse_prefix: bool = True,
                 max_pixels: int | None = DEFAULT_MAX_PIXELS,
                 model_info: dict[str, Any] | None = None) -> None:
        super().__init__({"path": str(path), **(model_info or {})}, max_pixels)
        self.device = pick_device(device)
        self.torch_dtype = pick_dtype(dtype, self.device)
        self.quantization = quantization
        self.trust_remote_code = trust_remote_code
        self.batch_size = max(1, int(batch_size))
        self.reuse_prefix = reuse_prefix
        model, self.processor = load_model_and_processor(
            path, device=self.device, dtype=self.torch_dtype, quantization=quantization,
            trust_remote_code=trust_remote_code)
        self.tokenizer = self.processor.tokenizer
        # Left padding keeps every row's last prompt token in the last column.
        self.tokenizer.padding_side = "left"
        self.adapters = AdapterSet(model)
        self.adapter_info: dict[str, dict[str, Any]] = {}
        self._letter_table: dict[str, tuple[int, ...]] | None = None
        self._cache_kw = _cache_keyword()
        self.model_info["adapter"] = None

    # ------------------------------------------------------------------ adapters

    def load_adapter(self, name: str, path: str | Path, sha256: str | None = None,
                     activate: bool = True) -> None:
        """Load a PEFT adapter folder under ``name`` (and make it active)."""
        self.adapters.load(name, path, activate=activate)
        self.adapter_info[name] = {"name": name, "path": str(path), "sha256": sha256}
        self._sync_adapter_info()

    def set_adapter(self, name: str | None) -> None:
        """Activate adapter ``name``; None runs the base model."""
        self.adapters.activate(name)
        self._sync_adapter_info()

    def unload_adapter(self, name: str) -> None:
        self.adapters.unload(name)
        self.adapter_info.pop(name, None)
        self._sync_adapter_info()

    def _sync_adapter_info(self) -> None:
        active = self.adapters.active
        self.model_info["adapter"] = dict(self.adapter_info[active]) if active else None

    def options(self) -> dict[str, Any]:
        return {**super().options(), "device": self.device,
                "dtype": DTYPE_NAMES.get(str(self.torch_dtype), str(self.torch_dtype)),
                "quantization": self.quantization, "trust_remote_code": self.trust_remote_code,
                "batch_size": self.batch_size, "reuse_prefix": self.reuse_prefix}

    def close(self) -> None:
        self.adapters = None  # type: ignore[assignment]
        self.processor = None
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.empty_cache()

    # ------------------------------------------------------------------ encoding

    def _render(self, request: Request) -> str:
        if not getattr(self.processor, "chat_template", None):
            raise WorkbenchError(f"the processor of {self.model_info.get('path')} has no chat template; "
                                 "this backend needs an instruction-tuned model with one")
        messages = []
        for message in request.messages:
            content = message["content"]
            if isinstance(content, str):
                # Many VLM chat templates loop over content parts and mis-render a plain string.
                content = [{"type": "text", "text": content}]
            messages.append({"role": message["role"], "content": content})
        return self.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)

    def _encode(self, requests: Sequence[Request], images: Sequence[Sequence[PreparedImage]]):
        texts = [self._render(request) for request in requests]
        kwargs: dict[str, Any] = {"text": texts, "return_tensors": "pt", "padding": True}
        if any(images):
            kwargs["images"] = [[image.image for image in row] for row in images]
        inputs = self.processor(**kwargs)
        return inputs.to(self.adapters.model.device, dtype=self.torch_dtype)

    def _letter_ids(self, letters: Sequence[str]) -> dict[str, tuple[int, ...]]:
        if self._letter_table is None:
            special = set(self.tokenizer.all_special_ids)
            ids = [token_id for token_id in range(len(self.tokenizer)) if token_id not in special]
            texts = self.tokenizer.batch_decode([[token_id] for token_id in ids])
            self._letter_table = letter_math.letter_token_table(zip(ids, texts))
        return letter_math.ids_for_letters(self._letter_table, letters)

    def _fill_letters(self, result: Result, request: Request, logits) -> None:
        ids = self._letter_ids(request.valid_letters)
        row = logits.float().cpu().numpy()
        result.letter_probs, result.letter_mass = letter_math.from_logits(row, ids)
        result.letter_method = "logits"

    # ------------------------------------------------------------------ independent requests

    def _run(self, requests: list[Request], mode: Mode) -> list[Result]:
        results: list[Result] = []
        for batch in self._batches(requests):
            images = [self._images(request) for request in batch]
            if mode == "letters":
                results.extend(self._letters_batch(batch, images))
            else:
                results.extend(self._generate_batch(batch, images))
        return results

    def _batches(self, requests: list[Request]) -> list[list[Request]]:
        """Consecutive runs of up to ``batch_size`` requests with equal settings and image use."""
        batches: list[list[Request]] = []
        for request in requests:
            last = batches[-1] if batches else None
            if (last and len(last) < self.batch_size and last[0].settings == request.settings
                    and bool(last[0].images) == bool(request.images)):
                last.append(request)
            else:
                batches.append([request])
        return batches

    def _letters_batch(self, batch: list[Request], images: list[list[PreparedImage]]) -> list[Result]:
        import torch

        inputs = self._encode(batch, images)
        started = time.perf_counter()
        with torch.no_grad(), self.adapters.applied() as model:
            logits = model(**inputs).logits[:, -1]
        share = (time.perf_counter() - started) / len(batch)
        results = []
        for row, request in enumerate(batch):
            result = self._result(request, images[row])
            result.prompt_tokens = int(inputs["attention_mask"][row].sum())
            result.timings.prefill_s = share
            self._fill_letters(result, request, logits[row])
            results.append(result)
        return results

    def _generate_batch(self, batch: list[Request], images: list[list[PreparedImage]]) -> list[Result]:
        import torch

        settings = batch[0].settings
        inputs = self._encode(batch, images)
        wants_letters = any(request.valid_letters for request in batch)
        clock = _FirstStepClock()
        torch.manual_seed(settings.seed)
        with torch.no_grad(), self.adapters.applied() as model:
            output = model.generate(**inputs, **self._generation_kwargs(settings, wants_letters, clock))
        finished = time.perf_counter()
        prompt_length = inputs["input_ids"].shape[1]
        return [self._generated_result(request, images[row], output, row, prompt_length,
                                       int(inputs["attention_mask"][row].sum()), clock, finished,
                                       len(batch))
                for row, request in enumerate(batch)]

    def _generation_kwargs(self, settings: GenerationSettings, wants_letters: bool,
                           clock: _FirstStepClock) -> dict[str, Any]:
        from transformers import GenerationConfig, LogitsProcessorList

        # A fresh config: the model's own defaults (repetition penalty, top_k) would make
        # results depend on files outside the stored settings.
        config = GenerationConfig(
            max_new_tokens=settings.max_new_tokens, do_sample=not settings.greedy,
            temperature=settings.temperature if not settings.greedy else None,
            top_p=settings.top_p if not settings.greedy else None, top_k=None,
            eos_token_id=self._eos_ids(), pad_token_id=self.tokenizer.pad_token_id,
            return_dict_in_generate=True, output_logits=wants_letters,
            stop_strings=list(settings.stop) or None,
        )
        clock.start()
        return {"generation_config": config, "logits_processor": LogitsProcessorList([clock]),
                "tokenizer": self.tokenizer}

    def _eos_ids(self) -> list[int]:
        configured = self.adapters.model.generation_config.eos_token_id
        ids = configured if isinstance(configured, list) else [configured]
        ids = [token_id for token_id in ids if token_id is not None]
        if self.tokenizer.eos_token_id is not None and self.tokenizer.eos_token_id not in ids:
            ids.append(self.tokenizer.eos_token_id)
        return ids

    def _generated_result(self, request: Request, images: list[PreparedImage], output, row: int,
                          prompt_length: int, prompt_tokens: int, clock: _FirstStepClock,
                          finished: float, batch_rows: int) -> Result:
        result = self._result(request, images)
        new_tokens = output.sequences[row, prompt_length:].tolist()
        eos = set(self._eos_ids())
        answer_tokens: list[int] = []
        finish_reason = "length"
        for token in new_tokens:
            if token in eos:
                finish_reason = "stop"
                break
            if token == self.tokenizer.pad_token_id and token not in eos:
                finish_reason = "stop"
                break
            answer_tokens.append(token)
        text = self.tokenizer.decode(answer_tokens, skip_special_tokens=True)
        if request.settings.stop and any(stop in text for stop in request.settings.stop):
            finish_reason = "stop"
        result.text = _cut_at_stop(text, request.settings.stop)
        result.finish_reason = finish_reason
        result.prompt_tokens = prompt_tokens
        result.completion_tokens = len(answer_tokens)
        result.timings.prefill_s = clock.prefill_s / batch_rows
        result.timings.decode_s = (finished - clock.first_step) / batch_rows if clock.first_step else 0.0
        if request.valid_letters and getattr(output, "logits", None):
            self._fill_letters(result, request, output.logits[0][row])
        return result

    # ------------------------------------------------------------------ shared image

    def _run_shared(self, requests: list[Request], mode: Mode, image: PreparedImage) -> list[Result]:
        if not self.reuse_prefix or len(requests) < 2:
            return self._run(requests, mode)
        import torch

        encoded = [self._encode([request], [[image]]) for request in requests]
        prefix_length = self._shared_prefix_length(encoded)
        if prefix_length is None:
            log.info("questions share no prefix that covers the image; answering them separately")
            return self._run(requests, mode)

        started = time.perf_counter()
        with torch.no_grad(), self.adapters.applied() as model:
            prefix_inputs = _slice_tokens(encoded[0], 0, prefix_length)
            prefix_cache = model(**prefix_inputs, use_cache=True)[self._cache_kw_output()]
        shared = (time.perf_counter() - started) / len(requests)

        if mode == "letters":
            results = []
            for start in range(0, len(requests), self.batch_size):
                results.extend(self._letters_from_prefix(requests[start:start + self.batch_size],
                                                         encoded[start:start + self.batch_size],
                                                         image, prefix_cache, prefix_length))
        else:
            results = [self._generate_from_prefix(request, image, inputs, copy.deepcopy(prefix_cache))
                       for request, inputs in zip(requests, encoded)]
        for result in results:
            result.cached_tokens = prefix_length
            result.timings.shared_prefix_s = shared
        return results

    def _cache_kw_output(self) -> str:
        return "cache" if self._cache_kw == "cache" else "past_key_values"

    def _shared_prefix_length(self, encoded: list) -> int | None:
        """Length of the common token prefix, or None if it does not cover every image token."""
        rows = [inputs["input_ids"][0].tolist() for inputs in encoded]
        shortest = min(len(row) for row in rows)
        length = 0
        while length < shortest and all(row[length] == rows[0][length] for row in rows):
            length += 1
        length = min(length, shortest - 1)  # each question needs one token of its own for logits
        image_token = getattr(self.adapters.model.config, "image_token_id", None)
        if image_token is None:
            image_token = getattr(self.processor, "image_token_id", None)
        if image_token is None:
            return None
        positions = [i for i, token in enumerate(rows[0]) if token == image_token]
        if not positions or positions[-1] >= length:
            return None
        return length

    def _letters_from_prefix(self, requests: list[Request], encoded: list, image: PreparedImage,
                             prefix_cache, prefix_length: int) -> list[Result]:
        """Score several questions in one forward pass over their suffixes, right-padded.

        Every row continues the same cached prefix at the same positions, and with causal
        attention the padding after a row's last token cannot change that token's logits.
        """
        import torch

        suffixes = [_slice_tokens(inputs, prefix_length, None, text_only=True) for inputs in encoded]
        lengths = [suffix["input_ids"].shape[1] for suffix in suffixes]
        batch = _right_pad(suffixes, max(lengths), self.tokenizer.pad_token_id or 0)
        prefix_mask = torch.ones(len(requests), prefix_length, dtype=batch["attention_mask"].dtype,
                                 device=batch["attention_mask"].device)
        batch["attention_mask"] = torch.cat([prefix_mask, batch["attention_mask"]], dim=1)
        cache = copy.deepcopy(prefix_cache)
        if len(requests) > 1:
            cache.batch_repeat_interleave(len(requests))
        started = time.perf_counter()
        with torch.no_grad(), self.adapters.applied() as model:
            logits = model(**batch, **{self._cache_kw: cache}, use_cache=True).logits
        share = (time.perf_counter() - started) / len(requests)
        results = []
        for row, (request, inputs) in enumerate(zip(requests, encoded)):
            result = self._result(request, [image])
            result.timings.prefill_s = share
            result.prompt_tokens = int(inputs["attention_mask"][0].sum())
            self._fill_letters(result, request, logits[row, lengths[row] - 1])
            results.append(result)
        return results

    def _generate_from_prefix(self, request: Request, image: PreparedImage, inputs, cache) -> Result:
        import torch

        # The cache already contains the image, so only token inputs are passed. Pixel inputs
        # would be encoded again and matched against image tokens that are not in the suffix.
        text_inputs = _slice_tokens(inputs, 0, None, text_only=True)
        clock = _FirstStepClock()
        torch.manual_seed(request.settings.seed)
        with torch.no_grad(), self.adapters.applied() as model:
            output = model.generate(**text_inputs, **{self._cache_kw: cache},
                                    **self._generation_kwargs(request.settings,
                                                              bool(request.valid_letters), clock))
        finished = time.perf_counter()
        return self._generated_result(request, [image], output, 0, inputs["input_ids"].shape[1],
                                      int(inputs["attention_mask"][0].sum()), clock, finished, 1)


def _slice_tokens(inputs, start: int, stop: int | None, text_only: bool = False) -> dict[str, Any]:
    """Cut every per-token tensor (batch x sequence) to ``start:stop``; keep or drop the rest."""
    length = inputs["input_ids"].shape[1]
    sliced = {}
    for key, value in inputs.items():
        per_token = hasattr(value, "shape") and value.ndim == 2 and value.shape[1] == length
        if per_token:
            sliced[key] = value[:, start:stop]
        elif not text_only:
            sliced[key] = value
    return sliced


def _right_pad(rows: list[dict[str, Any]], length: int, pad_id: int) -> dict[str, Any]:
    """Stack single-row token tensors, padding each on the right to ``length``."""
    import torch

    batch = {}
    for key in rows[0]:
        fill = pad_id if key == "input_ids" else 0
        padded = [torch.nn.functional.pad(row[key], (0, length - row[key].shape[1]), value=fill) for row in rows]
        batch[key] = torch.cat(padded, dim=0)
    return batch


def _cut_at_stop(text: str, stops: Sequence[str]) -> str:
    cut = len(text)
    for stop in stops:
        index = text.find(stop)
        if index != -1:
            cut = min(cut, index)
    return text[:cut]


class _FirstStepClock:
    """A no-op logits processor that records when the first token's logits are ready."""

    def __init__(self) -> None:
        self.started = 0.0
        self.first_step: float | None = None

    def start(self) -> None:
        self.started = time.perf_counter()
        self.first_step = None

    def __call__(self, input_ids, scores):  # noqa: ANN001 - transformers LogitsProcessor API
        if self.first_step is None:
            self.first_step = time.perf_counter()
        return scores

    @property
    def prefill_s(self) -> float:
        return (self.first_step - self.started) if self.first_step else 0.0


__all__ = ["TransformersBackend"]
