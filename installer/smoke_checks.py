"""Checks that installer/smoke.sh runs inside the desktop bundle (``neuroonco smoke_checks.py ...``).

The bundle runs a ``.py`` file the way ``python FILE`` does, with the bundle's own
libraries, so these checks load what an installed bundle loads:

    session LOG                 the ``bench run --json`` output in LOG: a finished
                                rejection-aware run that answered every planned question,
                                and the semantics oracle right on every size, shape, spread
                                and location question
    job LOG                     the job whose id ``bench run --job --json`` wrote to LOG succeeded
    demo-window FILE            FILE is a PNG of at least 640 x 480 pixels that is not blank
                                and shows the demo lesion's green oedema overlay
    libraries                   PyTorch runs a tiny LLaVA model built from a config and
                                loaded back through AutoModelForImageTextToText; llama.cpp's
                                shared libraries load; the GGUF converter is bundled
    tiny-models FOLDER          builds the test suite's tiny random-weight LLaVA and
                                Qwen2.5-VL models (tests/tinymodels.py) into FOLDER and
                                converts the Qwen2.5-VL one to GGUF with the bundled
                                converter (text model and vision projector)
    answer LOG LETTERS          the ``models ask --mode letters`` output in LOG has a
                                probability for each of LETTERS (e.g. AB) and predicts one
    desktop-entry FILE PROGRAM  FILE is a desktop entry whose Exec line starts PROGRAM

Each check prints one summary line and exits 0, or prints ``error: ...`` and exits 1.
"""

import json
import sys
import tempfile
from pathlib import Path

# The semantics oracle answers these question types from the same mask semantics that
# generated the demo benchmark, so it must answer all of them correctly.
ORACLE_TYPES = ("size", "shape", "spread", "location")
MIN_SIZE = (640, 480)
# The window without an open case has about 300 colours (text antialiasing), with the demo
# case about 1,000.
MIN_COLOURS = 256
# Pixels whose green exceeds red and blue by this much belong to the demo lesion's oedema
# (label 2, drawn pure green over the grey slice). The legend's swatch has a few hundred.
GREEN_MARGIN = 60
MIN_OVERLAY_PIXELS = 2000


class CheckFailed(Exception):
    pass


def read_json_output(log: Path) -> dict:
    """Return the JSON object a ``--json`` command printed into ``log``."""
    text = log.read_text(encoding="utf-8")
    start = text.find("{")
    if start < 0:
        raise CheckFailed(f"{log} contains no JSON object")
    value, _end = json.JSONDecoder().raw_decode(text[start:])
    return value


def check_session(log: Path) -> str:
    metrics = read_json_output(log)
    run = metrics["run"]
    if run["status"] != "finished":
        raise CheckFailed(f"run '{run['name']}' is {run['status']}, expected finished")
    if run["setting"] != "rejection-aware":
        raise CheckFailed(f"run '{run['name']}' has setting {run['setting']}, expected rejection-aware")
    answers = metrics["answers"]
    planned = sum(answers["planned"].values())
    if answers["stored"] != planned:
        raise CheckFailed(f"run '{run['name']}' stored {answers['stored']} answers for {planned} questions")
    by_type = metrics["summary"]["by_type"]
    for question_type in ORACLE_TYPES:
        group = by_type.get(question_type)
        if not group or group["correct"] != group["total"]:
            raise CheckFailed(f"the semantics oracle answered {question_type} questions "
                              f"{group['correct'] if group else 0}/{group['total'] if group else 0} "
                              "correctly; the bundled semantics differ from the demo benchmark's")
    summary = metrics["summary"]
    return (f"run '{run['name']}': {answers['stored']} answers, closed accuracy "
            f"{summary['correct']}/{summary['total']}, trap items {summary['trap']['correct']}/"
            f"{summary['trap']['total']}")


def check_job(log: Path) -> str:
    from db.session import open_database
    from engine.jobs.queue import get_job

    job_id = read_json_output(log)["job_id"]
    db = open_database(None)
    try:
        job = get_job(db, job_id)
        state, kind, message = job.state, job.kind, job.message
    finally:
        db.dispose()
    if state != "succeeded":
        raise CheckFailed(f"job {job_id} ({kind}) is {state}: {message}")
    return f"job {job_id} ({kind}) succeeded"


def check_demo_window(path: Path) -> str:
    import numpy as np
    from PIL import Image

    if not path.is_file():
        raise CheckFailed(f"screenshot {path} was not written")
    with Image.open(path) as image:
        if image.format != "PNG":
            raise CheckFailed(f"{path} is {image.format}, not PNG")
        pixels = np.asarray(image.convert("RGB")).astype(int)
    height, width = pixels.shape[:2]
    if width < MIN_SIZE[0] or height < MIN_SIZE[1]:
        raise CheckFailed(f"screenshot {path} is {width} x {height} pixels, expected at least "
                          f"{MIN_SIZE[0]} x {MIN_SIZE[1]}")
    colours = len(np.unique(pixels.reshape(-1, 3), axis=0))
    if colours < MIN_COLOURS:
        raise CheckFailed(f"screenshot {path} has only {colours} colours; the window looks blank")
    red, green, blue = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    overlay = int(((green - np.maximum(red, blue)) > GREEN_MARGIN).sum())
    if overlay < MIN_OVERLAY_PIXELS:
        raise CheckFailed(f"screenshot {path} has {overlay} green overlay pixels, expected at least "
                          f"{MIN_OVERLAY_PIXELS}; the demo case is not on screen")
    return f"{path.name}: {width} x {height} pixels, {colours} colours, {overlay} overlay pixels"


def check_libraries() -> str:
    import llama_cpp
    import llama_cpp.mtmd_cpp  # noqa: F401 - loads libmtmd, llama.cpp's image support
    import torch
    import transformers
    from transformers import (AutoModelForImageTextToText, CLIPVisionConfig, LlamaConfig,
                              LlavaConfig, LlavaForConditionalGeneration)

    from engine.inference.gguf_convert import converter_dir

    torch.manual_seed(0)
    config = LlavaConfig(
        vision_config=CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                       num_attention_heads=2, image_size=32, patch_size=16),
        text_config=LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64,
                                num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2),
        image_token_id=63,
    )
    with tempfile.TemporaryDirectory() as folder:
        LlavaForConditionalGeneration(config).save_pretrained(folder)
        model = AutoModelForImageTextToText.from_pretrained(folder).eval()
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([[1, 2, 3, 4]])).logits
    if tuple(logits.shape) != (1, 4, 64) or not torch.isfinite(logits).all():
        raise CheckFailed(f"the tiny LLaVA model returned logits of shape {tuple(logits.shape)}")

    llama_cpp.llama_backend_init()
    system_info = llama_cpp.llama_print_system_info().decode()
    converter = converter_dir()
    return (f"torch {torch.__version__} (CUDA {torch.version.cuda or 'none'}), transformers "
            f"{transformers.__version__}, llama-cpp-python {llama_cpp.__version__} "
            f"[{system_info.strip()[:60]}...], GGUF converter in {converter}")


def build_tiny_models(folder: Path) -> str:
    # The builders are the test suite's; they need transformers and tokenizers, no download.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from tinymodels import build_gguf_pair, build_llava, build_qwen2vl

    build_llava(folder / "llava")
    build_qwen2vl(folder / "qwen2_5_vl", arch="qwen2_5_vl")
    (folder / "gguf").mkdir()
    build_gguf_pair(folder / "qwen2_5_vl", folder / "gguf")
    files = sorted(path.name for path in (folder / "gguf").iterdir())
    if files != ["mmproj-f16.gguf", "model-f16.gguf"]:
        raise CheckFailed(f"the GGUF conversion wrote {files} in {folder / 'gguf'}")
    return f"tiny LLaVA in {folder / 'llava'}, GGUF pair in {folder / 'gguf'}"


def check_answer(log: Path, letters: str) -> str:
    result = read_json_output(log)
    probabilities = result.get("letter_probs") or {}
    if sorted(probabilities) != sorted(letters):
        raise CheckFailed(f"{log}: letter probabilities for {sorted(probabilities)}, expected {list(letters)}")
    if result.get("predicted_letter") not in probabilities:
        raise CheckFailed(f"{log}: predicted letter {result.get('predicted_letter')!r} is not an option")
    model = result["provenance"]["model"]
    return (f"{model['name']} ({model['backend']}): predicted {result['predicted_letter']}, "
            f"{result['prompt_tokens']} prompt tokens, {result['latency_ms']:.0f} ms")


def check_desktop_entry(path: Path, program: str) -> str:
    if not path.is_file():
        raise CheckFailed(f"desktop entry {path} was not written")
    lines = path.read_text(encoding="utf-8").splitlines()
    if lines[:1] != ["[Desktop Entry]"]:
        raise CheckFailed(f"{path} does not start with [Desktop Entry]")
    keys = dict(line.split("=", 1) for line in lines[1:] if "=" in line)
    expected = f'"{program}" gui'
    if keys.get("Exec") != expected:
        raise CheckFailed(f"{path} has Exec={keys.get('Exec')}, expected {expected}")
    for key in ("Name", "Icon", "Type"):
        if not keys.get(key):
            raise CheckFailed(f"{path} has no {key} key")
    return f"{path}: Exec={keys['Exec']}"


def main(argv: list[str]) -> int:
    checks = {
        "session": (1, lambda args: check_session(Path(args[0]))),
        "job": (1, lambda args: check_job(Path(args[0]))),
        "demo-window": (1, lambda args: check_demo_window(Path(args[0]))),
        "libraries": (0, lambda args: check_libraries()),
        "tiny-models": (1, lambda args: build_tiny_models(Path(args[0]))),
        "answer": (2, lambda args: check_answer(Path(args[0]), args[1])),
        "desktop-entry": (2, lambda args: check_desktop_entry(Path(args[0]), args[1])),
    }
    if not argv or argv[0] not in checks or len(argv) - 1 != checks[argv[0]][0]:
        print(f"usage: smoke_checks.py {{{','.join(checks)}}} ARGS... (see the module docstring)",
              file=sys.stderr)
        return 2
    try:
        print(checks[argv[0]][1](argv[1:]))
    except CheckFailed as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
