#!/usr/bin/env bash
# Fine-tune a real small VLM with LoRA on a machine with an NVIDIA GPU and record what the
# engine does there:
#   1. the engine's training loop against a plain PEFT loop (benchmarks/bench_finetune.py,
#      bf16, target <= 1.1x);
#   2. a complete run of a few hundred steps through 'neuroonco finetune start
#      --foreground' on axial MRI slices (Colin27, Debian mricron-data): the dry-run
#      estimate first, then the measured samples/s, peak GPU memory and wall time, so the
#      estimate can be compared with the measurement;
#   3. a merge of the last checkpoint into the base model.
# Add the printed figures, the GPU, the command and the date to docs/benchmarks.md.
#
#   benchmarks/gpu_finetune.sh               download the model (if needed) and measure
#   OUT=results benchmarks/gpu_finetune.sh   keep the database, runs and JSON in results/
#
# Needs: a CUDA build of torch with torchvision (Qwen2-VL processors need it), the Debian
# package mricron-data, and network access to the Hugging Face hub unless HF_MODEL is a
# local folder.
#
# Environment (defaults in brackets):
#   PYTHON    interpreter [.venv/bin/python]
#   HF_MODEL  hub id or local folder of the base model [Qwen/Qwen2-VL-2B-Instruct]
#   STEPS     optimizer steps of the full run [300]
#   SAMPLES   training samples written (each used once per epoch) [600]
#   OUT       folder for the database, runs and results [a new temporary folder]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
python=${PYTHON:-.venv/bin/python}
hf_model=${HF_MODEL:-Qwen/Qwen2-VL-2B-Instruct}
steps=${STEPS:-300}
samples=${SAMPLES:-600}
out=${OUT:-$(mktemp -d -t gpu-finetune-XXXXXX)}
mkdir -p "$out"

fail() { echo "error: $*" >&2; exit 1; }

command -v nvidia-smi >/dev/null || fail "nvidia-smi not found; this script is for a machine with an NVIDIA GPU"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
[ -x "$python" ] || command -v "$python" >/dev/null || fail "$python not found; set PYTHON"
"$python" - <<'PY' || exit 1
import sys
import torch
if not torch.cuda.is_available():
    sys.exit("error: torch sees no CUDA GPU; install a CUDA build of torch")
try:
    import torchvision  # noqa: F401
except ImportError:
    sys.exit("error: torchvision is missing; Qwen2-VL processors need it (pip install torchvision "
             "matching the torch build)")
print(f"torch {torch.__version__}, {torch.cuda.get_device_name(0)}, bf16 {torch.cuda.is_bf16_supported()}")
PY
[ -f /usr/share/mricron/templates/ch2.nii.gz ] || fail "Colin27 template missing; apt-get install mricron-data"

export NEUROONCO_DB_URL="sqlite:///$out/workbench.sqlite"
export NEUROONCO_DATA_DIR="$out/data"
neuroonco() { "$python" -m engine.cli.main "$@"; }

# The base model: a local folder is registered as it is; a hub id is downloaded first.
if [ -d "$hf_model" ]; then
    neuroonco models add gpu-base --backend transformers --path "$hf_model" --no-hash
else
    neuroonco models download "$hf_model" --name gpu-base
fi
model_dir=$(neuroonco models list --json | "$python" -c \
    'import json, sys; print(next(m["path"] for m in json.load(sys.stdin) if m["name"] == "gpu-base"))')

# Training data: one question per axial slice, written as PNG + JSONL.
"$python" - "$out/data/train" "$samples" <<'PY'
import json
import sys
from pathlib import Path

sys.path[:0] = ["tests"]
from tinymodels import mri_slice

folder, count = Path(sys.argv[1]), int(sys.argv[2])
folder.mkdir(parents=True, exist_ok=True)
questions = ("Which sequence is this?", "Is there an abnormality?", "Which plane is shown?")
answers = ("T1", "No, the slice looks normal.", "Axial")
with open(folder / "train.jsonl", "w") as handle:
    for index in range(count):
        name = f"slice_{index:04d}.png"
        mri_slice(30 + index % 120, size=448).save(folder / name)
        messages = [{"role": "user", "content": f"<image>\n{questions[index % 3]}"},
                    {"role": "assistant", "content": answers[index % 3]}]
        handle.write(json.dumps({"messages": messages, "images": [name]}) + "\n")
PY

echo "== 1. engine loop vs plain PEFT loop (bf16)"
"$python" benchmarks/bench_finetune.py --model "$model_dir" --device cuda --precision bf16 \
    --steps 50 --rounds 3 --json "$out/bench_finetune_gpu.json"

# With batch 2 and accumulation 1 one epoch is about SAMPLES / 2 steps (5 % are held out).
epochs=$("$python" -c "print($steps * 2 / $samples)")
run_args=(--name gpu-run --base-model gpu-base --dataset "$out/data/train/train.jsonl"
          --precision bf16 --device cuda --batch-size 2 --gradient-accumulation 1
          --epochs "$epochs" --save-steps 100 --eval-steps 50 --val-split 0.05)

echo "== 2. estimate before the run"
neuroonco finetune start "${run_args[@]}" --dry-run | grep -v '^  "' || true

echo "== 2. full run ($steps steps)"
started=$(date +%s)
neuroonco finetune start "${run_args[@]}" --foreground
finished=$(date +%s)
neuroonco finetune show gpu-run --metrics 5
neuroonco finetune show gpu-run --metrics 100000 --json > "$out/gpu_run.json"
"$python" - "$out/gpu_run.json" "$((finished - started))" <<'PY'
import json
import sys

shown = json.load(open(sys.argv[1]))
metrics = shown["metrics"]
rates = [m["samples_per_second"] for m in metrics if m["samples_per_second"]]
memory = [m["gpu_memory_mb"] for m in metrics if m["gpu_memory_mb"]]
losses = [m["loss"] for m in metrics if m["loss"] is not None]
print(f"steps {shown['run']['step']}/{shown['run']['total_steps']}, wall {sys.argv[2]} s including model load")
print(f"mean samples/s {sum(rates) / len(rates):.2f}, peak GPU memory {max(memory) / 1024:.2f} GiB")
print(f"loss first 10 steps {sum(losses[:10]) / 10:.4f}, last 10 steps {sum(losses[-10:]) / 10:.4f}")
PY

echo "== 3. merge the last checkpoint"
neuroonco finetune merge gpu-run --out "$out/merged"
echo "results in $out"
