"""After training: register a checkpoint as an adapter, merge it into the base, convert to GGUF.

Any checkpoint of a run can be used, not only the last. Registering writes an ``adapter``
row of the base model linked to the checkpoint, with the SHA-256 of the adapter weights,
so benchmark sessions can load it by name. Merging adds the LoRA update to the base
weights (W + alpha / r x B A) and saves a complete model folder with the processor; a base
stored quantized is rejected, because its weights cannot absorb the update exactly.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from db.models import Adapter, Checkpoint
from db.session import Database
from engine.errors import InvalidInputError, NotFoundError, WorkbenchError
from engine.finetune.checkpoints import ADAPTER_DIR
from engine.finetune.runs import RunInfo, get_run
from engine.finetune.validation import is_prequantized
from engine.inference.model_files import hash_model
from engine.inference.registry import AdapterRecord, ModelRecord, get_model
from engine.progress import Progress

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckpointRef:
    """A checkpoint row of a run: id, step, folder and its adapter subfolder."""

    id: int
    step: int
    path: Path
    val_loss: float | None

    @property
    def adapter_path(self) -> Path:
        return self.path / ADAPTER_DIR


@dataclass(frozen=True)
class MergeResult:
    folder: Path
    gguf_files: tuple[Path, ...] = ()
    registered_as: str | None = None


def find_checkpoint(db: Database, run: RunInfo, step: int | None = None) -> CheckpointRef:
    """Return checkpoint ``step`` of ``run`` (the latest when None)."""
    with db.session() as session:
        query = select(Checkpoint).where(Checkpoint.training_run_id == run.id)
        if step is None:
            row = session.scalar(query.order_by(Checkpoint.step.desc()).limit(1))
        else:
            row = session.scalar(query.where(Checkpoint.step == step))
        if row is None:
            steps = list(session.scalars(select(Checkpoint.step)
                                         .where(Checkpoint.training_run_id == run.id)
                                         .order_by(Checkpoint.step)))
            known = ", ".join(str(s) for s in steps) or "none yet"
            what = "no checkpoint" if step is None else f"no checkpoint at step {step}"
            raise NotFoundError(f"training run '{run.name}' has {what}; its checkpoints: {known}")
        ref = CheckpointRef(row.id, row.step, Path(row.path), row.val_loss)
    if not (ref.adapter_path / "adapter_config.json").is_file():
        raise NotFoundError(f"checkpoint folder {ref.path} has no adapter; it was moved or deleted")
    return ref


def _base_record(db: Database, run: RunInfo) -> ModelRecord:
    if run.base_model is None:
        raise NotFoundError(f"the base model of training run '{run.name}' is no longer registered")
    return get_model(db, run.base_model)


def register_checkpoint(db: Database, run_ref: int | str, name: str, step: int | None = None,
                        progress: Progress | None = None) -> AdapterRecord:
    """Register checkpoint ``step`` (latest when None) of a run as adapter ``name`` of its base model."""
    name = (name or "").strip()
    if not name:
        raise InvalidInputError("the adapter name is empty; choose a name such as glioma-lora-step200")
    run = get_run(db, run_ref)
    checkpoint = find_checkpoint(db, run, step)
    base = _base_record(db, run)
    sha256 = hash_model(checkpoint.adapter_path, progress=progress)[0]
    with db.session(write=True) as session:
        exists = session.scalar(select(Adapter.id).where(Adapter.model_id == base.id, Adapter.name == name))
        if exists is not None:
            raise InvalidInputError(f"model '{base.name}' already has an adapter named '{name}'; "
                                    "choose another name")
        adapter = Adapter(model_id=base.id, name=name, path=str(checkpoint.adapter_path.resolve()),
                          sha256=sha256, checkpoint_id=checkpoint.id)
        session.add(adapter)
        session.flush()
        return AdapterRecord(adapter.id, adapter.name, adapter.path, adapter.sha256)


def merge_checkpoint(db: Database, run_ref: int | str, out_dir: str | Path, step: int | None = None,
                     gguf: bool = False, register_as: str | None = None,
                     gguf_pre_tokenizer: str | None = None) -> MergeResult:
    """Merge checkpoint ``step`` into the base model and save the result in ``out_dir``.

    With ``gguf`` the merged folder is also converted to ``model-f16.gguf`` (and, where the
    converter supports the architecture, ``mmproj-f16.gguf``) with llama.cpp's converter.
    ``register_as`` registers the merged folder as a transformers model. Raises
    InvalidInputError for a quantized base or an output folder that is not empty.
    """
    run = get_run(db, run_ref)
    checkpoint = find_checkpoint(db, run, step)
    base = _base_record(db, run)
    if is_prequantized(base.quantization):
        raise InvalidInputError(f"cannot merge an adapter into the quantized model '{base.name}' "
                                f"({base.quantization}); merge into its full-precision original")
    out = Path(out_dir).expanduser().resolve()
    if out.exists() and any(out.iterdir()):
        raise InvalidInputError(f"output folder {out} is not empty; choose a new folder")
    if gguf:
        # Fail before the merge, so a missing converter leaves no merged folder behind.
        from engine.inference.gguf_convert import converter_dir

        converter_dir()
    if run.settings.method == "qlora":
        log.warning("run %s trained against a 4-bit base; the merge uses the full-precision base, "
                    "so the merged model differs slightly from what was trained", run.name)

    staging = out.with_name(f".{out.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        _merge_into(Path(base.path), checkpoint.adapter_path, staging)
        if out.exists():
            out.rmdir()
        staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info("merged %s step %d into %s", run.name, checkpoint.step, out)

    gguf_files: tuple[Path, ...] = ()
    if gguf:
        gguf_files = convert_merged(out, gguf_pre_tokenizer)
    if register_as:
        from engine.inference.registry import add_model

        add_model(db, register_as, "transformers", path=out,
                  revision=f"{run.name}@step{checkpoint.step}")
    return MergeResult(out, gguf_files, register_as)


def _merge_into(base_path: Path, adapter_path: Path, target: Path) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from engine.inference.model_files import detect_transformers

    # Merge in fp32, so adding alpha / r x B A loses no precision, then store the base's dtype.
    stored = detect_transformers(base_path)[1]
    model = AutoModelForImageTextToText.from_pretrained(base_path, dtype=torch.float32)
    merged = PeftModel.from_pretrained(model, str(adapter_path)).merge_and_unload()
    if stored in ("bf16", "fp16"):
        merged = merged.to({"bf16": torch.bfloat16, "fp16": torch.float16}[stored])
    merged.save_pretrained(target)
    AutoProcessor.from_pretrained(base_path).save_pretrained(target)


def convert_merged(folder: Path, pre_tokenizer: str | None = None) -> tuple[Path, ...]:
    """Convert a merged model folder to GGUF beside it; raise WorkbenchError without the converter.

    The text model must convert; the vision projector (mmproj) is converted where llama.cpp's
    converter supports the architecture, else only logged.
    """
    from engine.inference.gguf_convert import convert_hf_to_gguf, converter_dir

    converter_dir()
    text = convert_hf_to_gguf(folder, folder / "model-f16.gguf", pre_tokenizer_fallback=pre_tokenizer)
    try:
        mmproj = convert_hf_to_gguf(folder, folder / "mmproj-f16.gguf", mmproj=True,
                                    pre_tokenizer_fallback=pre_tokenizer)
    except WorkbenchError as error:
        log.warning("the vision projector of %s was not converted: %s", folder, error)
        return (text,)
    return (text, mmproj)
