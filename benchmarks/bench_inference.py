"""Questions per second: published-script style generation vs the engine's image reuse + letters.

For each model:

(a) one generate call per question with the image encoded again each time and 8 new
    tokens, as the MM-NeuroOnco evaluation scripts do (transformers: processor + generate;
    llama.cpp: ``create_chat_completion`` with the library's chat handler);
(b) the engine's ``answer_many(image, questions, mode="letters")``: the system prompt and
    image once per slice, then one forward pass for the slice's questions;
(c) for reference, the engine's ``letter_probabilities`` without reuse.

The letter of (a) is the most probable valid letter of its first generated token (a
random tiny model rarely writes a letter, so its text cannot be parsed); (b) should pick
the same letter for every question. Questions are the first items of the MM-NeuroOnco
closed benchmark; images are axial slices of the Colin27 T1 template (Debian
mricron-data). Without model options the tiny random-weight models of tests/tinymodels.py
are built and used.

    python benchmarks/bench_inference.py [--items 30] [--size 224] [--json out.json]
    python benchmarks/bench_inference.py --hf-model DIR --gguf MODEL.gguf --mmproj MMPROJ.gguf \\
        --device cuda --n-gpu-layers -1
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from engine.inference import letters as letter_math  # noqa: E402
from engine.inference import load_template, prepare_image  # noqa: E402
from engine.inference.types import Result  # noqa: E402
from tinymodels import TinyModels, mri_slice  # noqa: E402

BENCHMARK = ROOT.parent / "shared" / "data" / "mm-neuroonco" / "mm-neuroonco_benchmark_closed_v1.0.json"
MAX_NEW_TOKENS = 8  # the published scripts generate 8 to 10 tokens
REPEATS = 3


def load_items(count: int, size: int) -> list[dict]:
    """Return the first ``count`` benchmark items, each with an MRI slice as its image."""
    items = json.loads(BENCHMARK.read_text())[:count]
    for index, item in enumerate(items):
        item["image"] = mri_slice(40 + (index * 3) % 100, size=size)
    return items


def requests_for(item: dict, with_image: bool):
    template = load_template("closed-letter")
    settings = template.default_settings(max_new_tokens=MAX_NEW_TOKENS)
    return [template.request(image=item["image"] if with_image else None, settings=settings,
                             key=(item["id"], index), question=pair["question"], options=pair["options"])
            for index, pair in enumerate(item["vqa_pairs"])]


def best_letter(probs: dict[str, float]) -> str:
    return Result(key=None, letter_probs=probs).predicted_letter


def timed(function, items) -> tuple[dict, float]:
    """Run ``function`` on ``items`` REPEATS times; return its letters and the fastest time.

    The fastest of several runs is the usual estimate on a shared machine, where other
    processes only ever add time.
    """
    function(items[:1])  # warm-up: lazy initialisation is not part of the rate
    best = float("inf")
    letters = {}
    for _ in range(REPEATS):
        started = time.perf_counter()
        letters = function(items)
        best = min(best, time.perf_counter() - started)
    return letters, best


def engine_runs(backend):
    def shared(items):
        chosen = {}
        for item in items:
            for result in backend.answer_many(item["image"], requests_for(item, False), mode="letters"):
                chosen[result.key] = result.predicted_letter
        return chosen

    def separate(items):
        requests = [request for item in items for request in requests_for(item, with_image=True)]
        return {result.key: result.predicted_letter for result in backend.letter_probabilities(requests)}

    return shared, separate


# --------------------------------------------------------------------------- transformers


def hf_published(backend):
    """(a) for transformers: processor + generate per question, on the backend's model."""
    import torch

    processor, model, tokenizer = backend.processor, backend.adapters.model, backend.tokenizer

    def run(items):
        chosen = {}
        for item in items:
            for request in requests_for(item, with_image=True):
                messages = [{"role": m["role"], "content": m["content"] if isinstance(m["content"], list)
                             else [{"type": "text", "text": m["content"]}]} for m in request.messages]
                text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
                inputs = processor(text=[text], images=[[prepare_image(item["image"]).image]],
                                   return_tensors="pt").to(model.device, dtype=backend.torch_dtype)
                with torch.no_grad():
                    output = model.generate(**inputs, max_new_tokens=MAX_NEW_TOKENS, do_sample=False,
                                            output_logits=True, return_dict_in_generate=True,
                                            pad_token_id=tokenizer.pad_token_id)
                ids = backend._letter_ids(request.valid_letters)
                probs, _ = letter_math.from_logits(output.logits[0][0].float().cpu().numpy(), ids)
                chosen[request.key] = best_letter(probs)
        return chosen

    return run


def bench_transformers(label: str, path: Path, items: list[dict], **options) -> dict:
    from engine.inference.hf_backend import TransformersBackend

    backend = TransformersBackend(path, **options)
    shared, separate = engine_runs(backend)
    baseline, seconds_a = timed(hf_published(backend), items)
    letters_b, seconds_b = timed(shared, items)
    letters_c, seconds_c = timed(separate, items)
    backend.close()
    return row(label, baseline, letters_b, letters_c, seconds_a, seconds_b, seconds_c)


# --------------------------------------------------------------------------- llama.cpp


def llama_published(model: Path, mmproj: Path, handler_name: str, n_gpu_layers: int, n_ctx: int):
    """(a) for llama.cpp: the library's ``create_chat_completion`` per question."""
    from llama_cpp import Llama

    from engine.inference.llamacpp_handlers import handler_class

    handler = handler_class(handler_name)(clip_model_path=str(mmproj), verbose=False)
    llama = Llama(model_path=str(model), n_ctx=n_ctx, n_threads=os.cpu_count(), n_gpu_layers=n_gpu_layers,
                  verbose=False, chat_handler=handler)

    def run(items):
        for item in items:
            uri = prepare_image(item["image"]).data_uri
            for request in requests_for(item, with_image=True):
                messages = [dict(m) for m in request.messages]
                messages[-1] = {"role": "user", "content": [
                    {"type": "image_url", "image_url": {"url": uri}}, messages[-1]["content"][-1]]}
                llama.create_chat_completion(messages=messages, max_tokens=MAX_NEW_TOKENS, temperature=0.0,
                                             repeat_penalty=1.0)
        return {}

    return run


def bench_llamacpp(label: str, model: Path, mmproj: Path, items: list[dict], n_gpu_layers: int) -> dict:
    """Measure the GGUF model; (a) is timed on the library's chat-completion path.

    That path exposes no logits (``logits_all`` is off). So the letters of (a) come from the
    engine's ``generate`` per question, which evaluates the same prompt, as
    tests/test_inference_gguf.py checks.
    """
    from engine.inference.llamacpp_backend import LlamaCppBackend

    backend = LlamaCppBackend(model, mmproj, n_gpu_layers=n_gpu_layers, n_threads=os.cpu_count())
    shared, separate = engine_runs(backend)

    def engine_generate(chunk):
        requests = [request for item in chunk for request in requests_for(item, with_image=True)]
        return {result.key: result.predicted_letter for result in backend.generate(requests)}

    _, seconds_a = timed(llama_published(model, mmproj, backend.handler_name, n_gpu_layers, backend.n_ctx),
                         items)
    baseline, seconds_a_engine = timed(engine_generate, items)
    letters_b, seconds_b = timed(shared, items)
    letters_c, seconds_c = timed(separate, items)
    backend.close()
    result = row(label, baseline, letters_b, letters_c, seconds_a, seconds_b, seconds_c)
    result["a_engine_qps"] = result["questions"] / seconds_a_engine
    return result


# --------------------------------------------------------------------------- main


def row(label, baseline, letters_b, letters_c, seconds_a, seconds_b, seconds_c) -> dict:
    questions = len(baseline)
    return {"model": label, "questions": questions,
            "a_qps": questions / seconds_a, "b_qps": questions / seconds_b, "c_qps": questions / seconds_c,
            "b_agree": sum(letters_b[key] == baseline[key] for key in baseline),
            "c_agree": sum(letters_c[key] == baseline[key] for key in baseline)}


def main() -> int:
    global REPEATS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=30, help="benchmark items (1 to 6 questions each)")
    parser.add_argument("--size", type=int, default=224, help="image side in pixels")
    parser.add_argument("--repeat", type=int, default=REPEATS, help="runs per method; the fastest counts")
    parser.add_argument("--models", help="folder for the tiny models (default: a temporary one)")
    parser.add_argument("--hf-model", action="append", default=[], metavar="DIR",
                        help="a Hugging Face VLM folder to measure instead of the tiny models")
    parser.add_argument("--gguf", help="a GGUF text model to measure instead of the tiny one")
    parser.add_argument("--mmproj", help="the mmproj GGUF of --gguf")
    parser.add_argument("--device", default="cpu", help="transformers device (default cpu)")
    parser.add_argument("--dtype", default="auto", help="transformers dtype: auto, bf16, fp16, fp32")
    parser.add_argument("--n-gpu-layers", type=int, default=0, help="llama.cpp layers on the GPU (-1: all)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args()
    REPEATS = max(1, args.repeat)
    load_before = os.getloadavg()[0]
    items = load_items(args.items, args.size)

    real = bool(args.hf_model or args.gguf)
    rows = []
    if real:
        for folder in args.hf_model:
            rows.append(bench_transformers(Path(folder).name, Path(folder), items, device=args.device,
                                           dtype=args.dtype))
        if args.gguf:
            rows.append(bench_llamacpp(Path(args.gguf).name, Path(args.gguf), Path(args.mmproj), items,
                                       args.n_gpu_layers))
    else:
        models = TinyModels(args.models or tempfile.mkdtemp(prefix="tinymodels-"))
        for arch in ("llava", "idefics3"):
            rows.append(bench_transformers(f"tiny {arch} (transformers)", models.transformers(arch), items,
                                           device="cpu"))
        model, mmproj = models.gguf("qwen2_5_vl")
        rows.append(bench_llamacpp("tiny qwen2.5-vl (llama.cpp)", model, mmproj, items, 0))

    print(f"{rows[0]['questions']} questions on {len(items)} images ({args.size} x {args.size} px); "
          f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
          f"fastest of {REPEATS} runs; load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after")
    print("| model | (a) q/s | (b) q/s | (b) / (a) | (c) q/s | (b) letters = (a) |")
    print("|---|---|---|---|---|---|")
    for entry in rows:
        print(f"| {entry['model']} | {entry['a_qps']:.1f} | {entry['b_qps']:.1f} | "
              f"{entry['b_qps'] / entry['a_qps']:.1f}x | {entry['c_qps']:.1f} | "
              f"{entry['b_agree']}/{entry['questions']} |")
    if args.json:
        Path(args.json).write_text(json.dumps({"repeats": REPEATS, "items": args.items, "size": args.size,
                                               "rows": rows}, indent=2))
    return 0 if all(entry["b_agree"] == entry["questions"] for entry in rows) or real else 1


if __name__ == "__main__":
    sys.exit(main())
