"""Loading a base model for training and wrapping it with LoRA.

The frozen base is loaded in the run's precision (bf16 / fp16 / fp32; 4-bit NF4 for
QLoRA) and the LoRA weights stay in fp32 (peft upcasts adapter weights by default), so
the optimizer always updates fp32 values. The forward pass runs under autocast for bf16
and fp16.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from engine.errors import InvalidInputError, WorkbenchError
from engine.finetune.config import FineTuneConfig
from engine.finetune.lora_targets import TargetPlan, plan_targets

log = logging.getLogger(__name__)


def torch_dtype(precision: str):
    import torch

    return {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[precision]


def pick_training_device(config: FineTuneConfig, local_rank: int = 0) -> str:
    """Return the device of this process: ``cuda:<local rank>`` with several GPUs."""
    import torch

    requested = config.device or "auto"
    if requested == "cpu":
        return "cpu"
    if requested.startswith("cuda") or (requested == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise InvalidInputError(f"device '{requested}' needs a CUDA GPU; torch sees none")
        if config.gpus > 1:
            return f"cuda:{local_rank}"
        return requested if requested.startswith("cuda:") else "cuda"
    if requested == "mps" or (requested == "auto" and torch.backends.mps.is_available()):
        return "mps"
    return "cpu"


def load_processor(path: str | Path) -> Any:
    """Load the base model's processor (tokenizer, image processor, chat template)."""
    from transformers import AutoProcessor

    try:
        processor = AutoProcessor.from_pretrained(path)
    except (OSError, ValueError, AttributeError, ImportError) as error:
        raise WorkbenchError(f"transformers cannot load the processor of {path}: "
                             f"{str(error).splitlines()[0] if str(error) else type(error).__name__}") from None
    if getattr(processor, "tokenizer", None) is None:
        raise WorkbenchError(f"the processor of {path} has no tokenizer; it is not a vision-language model")
    return processor


def load_base(path: str | Path, config: FineTuneConfig, device: str) -> Any:
    """Load the frozen base model on ``device`` in the run's precision (4-bit for QLoRA)."""
    from transformers import AutoModelForImageTextToText

    dtype = torch_dtype(config.precision)
    kwargs: dict[str, Any] = {"dtype": dtype}
    if config.method == "qlora":
        kwargs["quantization_config"] = _four_bit_config(device, dtype)
        kwargs["device_map"] = {"": device}
    try:
        model = AutoModelForImageTextToText.from_pretrained(path, **kwargs)
    except (OSError, ValueError, AttributeError, ImportError) as error:
        raise WorkbenchError(f"transformers cannot load {path}: "
                             f"{str(error).splitlines()[0] if str(error) else type(error).__name__}") from None
    if config.method != "qlora":
        model = model.to(device)
    model.config.use_cache = False
    return model


def _four_bit_config(device: str, compute_dtype: Any) -> Any:
    import importlib.util

    if not device.startswith("cuda"):
        raise InvalidInputError("QLoRA loads the base model in 4 bits with bitsandbytes, which needs "
                                f"a CUDA GPU; the device is {device}, so use LoRA")
    if importlib.util.find_spec("bitsandbytes") is None:
        raise InvalidInputError("QLoRA needs the bitsandbytes package; install it with 'pip install "
                                "bitsandbytes' or use LoRA")
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                              bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=compute_dtype)


def lora_config(config: FineTuneConfig, plan: TargetPlan) -> Any:
    from peft import LoraConfig

    return LoraConfig(r=config.lora_rank, lora_alpha=config.lora_alpha,
                      lora_dropout=config.lora_dropout, target_modules=list(plan.lora_modules),
                      modules_to_save=list(plan.full_modules) or None, task_type="CAUSAL_LM")


def wrap_with_lora(model: Any, config: FineTuneConfig) -> tuple[Any, TargetPlan]:
    """Freeze ``model`` and add fresh LoRA layers; return (PeftModel, target plan)."""
    from peft import get_peft_model, prepare_model_for_kbit_training

    plan = plan_targets(model, config)
    if config.method == "qlora":
        # NOTE: the QLoRA path needs CUDA and bitsandbytes and has not run on the machines
        # the tests run on; the LoRA path shares everything after this call.
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    peft_model = get_peft_model(model, lora_config(config, plan))
    trainable = sum(p.numel() for p in peft_model.parameters() if p.requires_grad)
    log.info("LoRA on %d layers, %d trainable parameters, %d module(s) trained in full",
             len(plan.lora_modules), trainable, len(plan.full_modules))
    return peft_model, plan


def trainable_parameters(model: Any) -> list[Any]:
    return [parameter for parameter in model.parameters() if parameter.requires_grad]
