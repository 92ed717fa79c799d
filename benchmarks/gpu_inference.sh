#!/usr/bin/env bash
# Measure published-script style generation against the engine's image reuse + letter
# probabilities on a machine with an NVIDIA GPU: a real small VLM through transformers and
# a 4-bit GGUF (plus its mmproj) through llama.cpp. Prints the table that
# benchmarks/bench_inference.py prints and writes it as JSON; add the figures, the GPU,
# the command and the date to docs/benchmarks.md.
#
#   benchmarks/gpu_inference.sh              download (if needed) and measure
#   OUT=results benchmarks/gpu_inference.sh  write results/gpu_inference.json
#
# Needs: a CUDA build of torch with torchvision (the Qwen2-VL family's processors need it),
# llama-cpp-python built with CMAKE_ARGS=-DGGML_CUDA=on, the Debian package mricron-data
# (test images) and network access to the Hugging Face hub unless the models are local.
#
# Environment (defaults in brackets):
#   PYTHON       interpreter [.venv/bin/python]
#   HF_MODEL     hub id or local folder of the transformers model [Qwen/Qwen2.5-VL-3B-Instruct]
#   GGUF_REPO    hub id of the GGUF repository [ggml-org/Qwen2.5-VL-3B-Instruct-GGUF]
#   GGUF_FILE    4-bit text model in it [Qwen2.5-VL-3B-Instruct-Q4_K_M.gguf]
#   MMPROJ_FILE  vision projector in it [mmproj-Qwen2.5-VL-3B-Instruct-f16.gguf]
#   GGUF_DIR     local folder that already contains GGUF_FILE and MMPROJ_FILE (skips the download)
#   ITEMS        benchmark items, 1 to 6 questions each [100]
#   OUT          folder for gpu_inference.json [.]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
python=${PYTHON:-.venv/bin/python}
hf_model=${HF_MODEL:-Qwen/Qwen2.5-VL-3B-Instruct}
gguf_repo=${GGUF_REPO:-ggml-org/Qwen2.5-VL-3B-Instruct-GGUF}
gguf_file=${GGUF_FILE:-Qwen2.5-VL-3B-Instruct-Q4_K_M.gguf}
mmproj_file=${MMPROJ_FILE:-mmproj-Qwen2.5-VL-3B-Instruct-f16.gguf}
items=${ITEMS:-100}
out=${OUT:-.}

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
    sys.exit("error: torchvision is missing; Qwen2-VL family processors need it (pip install torchvision "
             "matching the torch build)")
import llama_cpp
if not llama_cpp.llama_supports_gpu_offload():
    sys.exit("error: llama-cpp-python was built without GPU offload; reinstall it with "
             "CMAKE_ARGS=-DGGML_CUDA=on")
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, llama-cpp-python {llama_cpp.__version__}")
PY

fetch() {  # fetch REPO [FILE...]: print the local folder of a hub snapshot
  "$python" - "$@" <<'PY'
import sys
from huggingface_hub import list_repo_files, snapshot_download
repo, files = sys.argv[1], sys.argv[2:]
if files:
    available = set(list_repo_files(repo))
    missing = [name for name in files if name not in available]
    if missing:
        ggufs = sorted(name for name in available if name.endswith(".gguf"))
        sys.exit(f"error: {repo} has no {', '.join(missing)}; its GGUF files: {', '.join(ggufs)} "
                 "(set GGUF_FILE and MMPROJ_FILE)")
print(snapshot_download(repo, allow_patterns=files or None))
PY
}

if [ -d "$hf_model" ]; then hf_dir=$hf_model; else hf_dir=$(fetch "$hf_model"); fi
if [ -n "${GGUF_DIR:-}" ]; then gguf_dir=$GGUF_DIR; else gguf_dir=$(fetch "$gguf_repo" "$gguf_file" "$mmproj_file"); fi
[ -f "$gguf_dir/$gguf_file" ] || fail "$gguf_dir/$gguf_file not found"
[ -f "$gguf_dir/$mmproj_file" ] || fail "$gguf_dir/$mmproj_file not found"

mkdir -p "$out"
echo "== $(date -u +%Y-%m-%dT%H:%MZ) $hf_model and $gguf_file, $items items"
HF_HUB_OFFLINE=1 "$python" benchmarks/bench_inference.py --items "$items" --size 224 \
  --hf-model "$hf_dir" --device cuda --dtype bf16 \
  --gguf "$gguf_dir/$gguf_file" --mmproj "$gguf_dir/$mmproj_file" --n-gpu-layers -1 \
  --json "$out/gpu_inference.json"
echo "results: $out/gpu_inference.json"
