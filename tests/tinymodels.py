"""Tiny random-weight vision-language models for tests and benchmark scripts.

Every builder writes a real model folder (or GGUF file) from configs and a byte-level BPE
tokenizer trained on a few sentences, so nothing is downloaded. Builders are idempotent:
:func:`cached` builds into a temporary folder, renames it into place, and returns the
existing folder on later calls, so tests in several modules (and benchmark scripts) share
one build per cache root.

Architectures: LLaVA and Idefics3 (SmolVLM v1) load through ``AutoProcessor`` +
``AutoModelForImageTextToText``; Qwen2-VL and Qwen2.5-VL are built for GGUF conversion only,
because their processors cannot be constructed without torchvision in transformers 5.x.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np

CH2 = Path("/usr/share/mricron/templates/ch2.nii.gz")

SPECIAL_TOKENS = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>",
    "<image>", "<fake_token_around_image>", "<global-img>", "<end_of_utterance>",
    "<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>",
]

# Sentences the tokenizer is trained on: prompt words, option letters in both the "A" and
# " A" forms, and the answer formats of the prompt templates.
CORPUS = [
    "The axial T1 MRI slice shows a lesion in the left frontal lobe.",
    "Answer with the letter only: A, B, C, D or E.",
    "Final: A Explanation: the tumour is round and well circumscribed.",
    "Which sequence is this? A. T1 B. T2 C. FLAIR D. T1 contrast E. None of the above",
    "The answer is B. The answer is C. The answer is D. The answer is E.",
    "Is there an abnormality? A. Abnormal B. Healthy",
    "You are a neuroradiology assistant. Look at the brain MRI image and answer the question.",
]

# ChatML with image parts; ``image_text`` is what one image part becomes in the prompt.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}IMAGE_TEXT"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

# initializer_range 0.2 (default 0.02) makes the random text model's output depend visibly
# on the prompt and the image, so "different input gives different output" tests can fail.
TEXT_SIZES = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, initializer_range=0.2)


def cached(root: str | Path, name: str, build: Callable[[Path], None]) -> Path:
    """Return ``root/name``, calling ``build(folder)`` first if it was never built."""
    target = Path(root) / name
    if (target / ".complete").exists():
        return target
    Path(root).mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=root))
    try:
        build(staging)
        (staging / ".complete").write_text("ok\n")
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def seed_everything(seed: int) -> None:
    import torch

    torch.manual_seed(seed)
    np.random.seed(seed)


# --------------------------------------------------------------------------- images


def mri_slice(z: int = 90, size: int = 112):
    """Return axial slice ``z`` of the Colin27 T1 template (Debian mricron-data) as RGB.

    Raises FileNotFoundError when the package is not installed.
    """
    import nibabel as nib
    from PIL import Image

    if not CH2.exists():
        raise FileNotFoundError(f"{CH2} is missing; install the Debian package mricron-data")
    data = np.asarray(nib.load(CH2).dataobj[:, :, z], dtype=np.float32)
    data = np.flipud(data.T)  # radiological display: anterior up
    scaled = (255 * (data - data.min()) / max(float(data.max() - data.min()), 1.0)).astype(np.uint8)
    return Image.fromarray(scaled, mode="L").convert("RGB").resize((size, size), Image.BICUBIC)


# --------------------------------------------------------------------------- tokenizer


def build_tokenizer(image_text: str):
    """Train a byte-level BPE tokenizer (about 400 tokens) with a ChatML chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    backend.train_from_iterator(CORPUS * 3, trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, eos_token="<|im_end|>", pad_token="<|endoftext|>",
        additional_special_tokens=SPECIAL_TOKENS[1:],
    )
    tokenizer.chat_template = CHAT_TEMPLATE.replace("IMAGE_TEXT", image_text)
    return tokenizer


def _token_id(tokenizer, token: str) -> int:
    return tokenizer.convert_tokens_to_ids(token)


# --------------------------------------------------------------------------- transformers


def build_llava(folder: Path, seed: int = 0) -> None:
    """LLaVA-1.5 architecture: CLIP tower (64 px, 16 px patches), Llama text model."""
    from transformers import (CLIPVisionConfig, LlamaConfig, LlavaConfig,
                              LlavaForConditionalGeneration, LlavaImageProcessorPil,
                              LlavaProcessor)

    seed_everything(seed)
    tokenizer = build_tokenizer("<image>")
    image_processor = LlavaImageProcessorPil(size={"shortest_edge": 64},
                                             crop_size={"height": 64, "width": 64})
    processor = LlavaProcessor(image_processor=image_processor, tokenizer=tokenizer, patch_size=16,
                               vision_feature_select_strategy="default",
                               num_additional_image_tokens=1,
                               chat_template=tokenizer.chat_template)
    config = LlavaConfig(
        vision_config=CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                       num_attention_heads=4, image_size=64, patch_size=16),
        text_config=LlamaConfig(vocab_size=len(tokenizer), max_position_embeddings=1024,
                                **TEXT_SIZES),
        image_token_id=_token_id(tokenizer, "<image>"),
        vision_feature_select_strategy="default", vision_feature_layer=-1,
    )
    _save(LlavaForConditionalGeneration(config), processor, tokenizer, folder)


def build_idefics3(folder: Path, seed: int = 0) -> None:
    """Idefics3 (SmolVLM v1) architecture: 64 px SigLIP-style tower, 4 image tokens."""
    from transformers import (Idefics3Config, Idefics3ForConditionalGeneration,
                              Idefics3ImageProcessorPil, Idefics3Processor)

    seed_everything(seed)
    tokenizer = build_tokenizer("<image>")
    image_processor = Idefics3ImageProcessorPil(do_image_splitting=False,
                                                size={"longest_edge": 64},
                                                max_image_size={"longest_edge": 64})
    processor = Idefics3Processor(image_processor=image_processor, tokenizer=tokenizer,
                                  image_seq_len=4, chat_template=tokenizer.chat_template)
    config = Idefics3Config(
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                           num_attention_heads=4, image_size=64, patch_size=16),
        text_config=dict(model_type="llama", vocab_size=len(tokenizer),
                         max_position_embeddings=1024, **TEXT_SIZES),
        image_token_id=_token_id(tokenizer, "<image>"), scale_factor=2,
    )
    _save(Idefics3ForConditionalGeneration(config), processor, tokenizer, folder)


def _save(model, processor, tokenizer, folder: Path) -> None:
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.config.eos_token_id = tokenizer.eos_token_id
    model.save_pretrained(folder)
    processor.save_pretrained(folder)


def build_lora_adapter(base: Path, folder: Path, seed: int = 1) -> None:
    """Save a LoRA adapter for ``base`` with random (non-zero) A and B matrices.

    peft initialises B to zero by default, which would make the adapter a no-op;
    ``init_lora_weights=False`` gives both matrices random values, so the adapter
    really changes the logits.
    """
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForImageTextToText

    seed_everything(seed)
    model = AutoModelForImageTextToText.from_pretrained(base)
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
                        init_lora_weights=False, task_type="CAUSAL_LM")
    get_peft_model(model, config).save_pretrained(folder)


REMOTE_CODE = """from transformers import LlavaConfig, LlavaForConditionalGeneration


class TinyCustomConfig(LlavaConfig):
    model_type = "tiny_custom_llava"


class TinyCustomModel(LlavaForConditionalGeneration):
    config_class = TinyCustomConfig
"""


def build_remote_code_model(base: Path, folder: Path) -> None:
    """Copy the tiny LLaVA as a model whose classes live in its own Python file (``auto_map``)."""
    for file in base.iterdir():
        if file.is_file() and file.name != ".complete":
            shutil.copy(file, folder / file.name)
    (folder / "modeling_tiny_custom.py").write_text(REMOTE_CODE)
    config = json.loads((folder / "config.json").read_text())
    config["model_type"] = "tiny_custom_llava"
    config["architectures"] = ["TinyCustomModel"]
    config["auto_map"] = {"AutoConfig": "modeling_tiny_custom.TinyCustomConfig",
                          "AutoModelForImageTextToText": "modeling_tiny_custom.TinyCustomModel"}
    (folder / "config.json").write_text(json.dumps(config, indent=2))


# --------------------------------------------------------------------------- GGUF


def build_qwen2vl(folder: Path, arch: str = "qwen2_vl", seed: int = 0) -> None:
    """Qwen2-VL or Qwen2.5-VL (``arch="qwen2_5_vl"``) saved for GGUF conversion.

    The vision tower has depth 3 because llama.cpp's tensor map only maps the merger MLP
    tensors ``visual.merger.mlp.{n}`` for n below the block count.
    """
    from transformers import AutoTokenizer, Qwen2VLImageProcessorPil

    seed_everything(seed)
    tokenizer = build_tokenizer("<|vision_start|><|image_pad|><|vision_end|>")
    special = {name: _token_id(tokenizer, token) for name, token in [
        ("image_token_id", "<|image_pad|>"), ("video_token_id", "<|video_pad|>"),
        ("vision_start_token_id", "<|vision_start|>"), ("vision_end_token_id", "<|vision_end|>")]}
    text_config = dict(vocab_size=len(tokenizer), max_position_embeddings=1024,
                       bos_token_id=None, eos_token_id=tokenizer.eos_token_id,
                       pad_token_id=tokenizer.pad_token_id,
                       rope_parameters={"rope_type": "default", "rope_theta": 1e4,
                                        "mrope_section": [2, 3, 3]},
                       **TEXT_SIZES)
    if arch == "qwen2_vl":
        from transformers import Qwen2VLConfig as Config
        from transformers import Qwen2VLForConditionalGeneration as Model

        vision = dict(depth=3, embed_dim=32, hidden_size=64, num_heads=4, mlp_ratio=2,
                      patch_size=14, spatial_merge_size=2, temporal_patch_size=2)
    elif arch == "qwen2_5_vl":
        from transformers import Qwen2_5_VLConfig as Config
        from transformers import Qwen2_5_VLForConditionalGeneration as Model

        vision = dict(depth=3, hidden_size=32, intermediate_size=64, num_heads=4,
                      out_hidden_size=64, patch_size=14, spatial_merge_size=2,
                      temporal_patch_size=2, window_size=56, fullatt_block_indexes=[2])
    else:
        raise ValueError(f"unknown Qwen VL architecture '{arch}'")
    config = Config(text_config=text_config, vision_config=vision, **special)
    model = Model(config)
    model.config.eos_token_id = tokenizer.eos_token_id
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    # The mmproj conversion reads image_mean / image_std from preprocessor_config.json.
    Qwen2VLImageProcessorPil(patch_size=14, temporal_patch_size=2, merge_size=2).save_pretrained(folder)
    # The converter reads the chat template from tokenizer_config.json.
    config_path = folder / "tokenizer_config.json"
    tokenizer_config = json.loads(config_path.read_text())
    if "chat_template" not in tokenizer_config:
        tokenizer_config["chat_template"] = tokenizer.chat_template
        config_path.write_text(json.dumps(tokenizer_config, indent=2))
    assert AutoTokenizer.from_pretrained(folder).chat_template


def build_gguf_pair(hf_folder: Path, folder: Path) -> None:
    """Convert ``hf_folder`` to ``model-f16.gguf`` + ``mmproj-f16.gguf`` in ``folder``."""
    from engine.inference.gguf_convert import convert_hf_to_gguf

    # The tiny tokenizer splits text like GPT-2 (byte-level BPE with the GPT-2 regex).
    convert_hf_to_gguf(hf_folder, folder / "model-f16.gguf", pre_tokenizer_fallback="gpt-2")
    convert_hf_to_gguf(hf_folder, folder / "mmproj-f16.gguf", mmproj=True,
                       pre_tokenizer_fallback="gpt-2")


# --------------------------------------------------------------------------- cached set


class TinyModels:
    """Tiny models built on first use under ``root`` and reused afterwards."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def llava(self) -> Path:
        return cached(self.root, "llava", build_llava)

    def idefics3(self) -> Path:
        return cached(self.root, "idefics3", build_idefics3)

    def transformers(self, arch: str) -> Path:
        return {"llava": self.llava, "idefics3": self.idefics3}[arch]()

    def adapter(self, arch: str, seed: int = 1) -> Path:
        base = self.transformers(arch)
        return cached(self.root, f"{arch}-lora-{seed}",
                      lambda folder: build_lora_adapter(base, folder, seed))

    def remote_code(self) -> Path:
        base = self.llava()
        return cached(self.root, "llava-remote-code", lambda folder: build_remote_code_model(base, folder))

    def qwen_hf(self, arch: str = "qwen2_5_vl") -> Path:
        return cached(self.root, f"{arch}-hf", lambda folder: build_qwen2vl(folder, arch))

    def gguf(self, arch: str = "qwen2_5_vl") -> tuple[Path, Path]:
        """Return (text GGUF, mmproj GGUF) converted from the tiny Qwen VL model."""
        hf = self.qwen_hf(arch)
        folder = cached(self.root, f"{arch}-gguf", lambda out: build_gguf_pair(hf, out))
        return folder / "model-f16.gguf", folder / "mmproj-f16.gguf"
