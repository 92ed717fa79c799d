#!/usr/bin/env bash
# Smoke test of the desktop bundle that installer/build.sh made, without a display
# (Qt's offscreen platform) and on a clean, temporary home folder:
#
#   installer/smoke.sh [BUNDLE]   default BUNDLE: dist/neuroonco-workbench
#
# It runs the bundle's `neuroonco` with an empty environment apart from PATH, a UTF-8
# locale and that home folder, so no setting, database or Python path of this machine is
# used, and from a folder outside the repository. Steps: the version; `neuroonco demo`; a
# rejection-aware baseline:semantics-oracle session on the demo benchmark. Then a queued
# baseline:random session, run by a worker started the way the window starts one
# (`neuroonco -m engine.cli.main worker`). Then the window on the demo study, saved as a PNG
# and checked not to be blank; the bundled libraries (PyTorch with a tiny transformers model,
# llama.cpp's shared libraries, the GGUF converter); the test suite's tiny random-weight
# LLaVA (transformers) and Qwen2.5-VL (converted to GGUF in the bundle, run by llama.cpp)
# each answering one closed question about a demo slice; and the desktop entry's installer.
#
# Writes main-window.png and every step's log to $SMOKE_OUT (default dist/smoke), prints one
# line per step, and exits 0 when all pass. A failing step prints its log's last lines and
# exits 1.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bundle=$(realpath -m "${1:-$root/dist/neuroonco-workbench}")
out=$(realpath -m "${SMOKE_OUT:-$root/dist/smoke}")
checks=$root/installer/smoke_checks.py
if [ ! -x "$bundle/neuroonco" ]; then
  echo "error: $bundle/neuroonco not found; build the bundle with installer/build.sh first" >&2
  exit 1
fi
rm -rf "$out"
mkdir -p "$out"

home=$(mktemp -d "${TMPDIR:-/tmp}/neuroonco-smoke.XXXXXX")
trap 'rm -rf "$home"' EXIT
mkdir -p "$home/config" "$home/data" "$home/cache" "$home/runtime" "$home/work"
chmod 700 "$home/runtime"
clean_env=(env -i "PATH=/usr/local/bin:/usr/bin:/bin" "LANG=C.UTF-8" "HOME=$home"
  "XDG_CONFIG_HOME=$home/config" "XDG_DATA_HOME=$home/data" "XDG_CACHE_HOME=$home/cache"
  "XDG_RUNTIME_DIR=$home/runtime" "QT_QPA_PLATFORM=offscreen"
  "HF_HUB_OFFLINE=1" "TRANSFORMERS_OFFLINE=1")
neuroonco=("${clean_env[@]}" "$bundle/neuroonco")
started=$SECONDS

# step NAME COMMAND...: run COMMAND in the clean environment with its output in $out/NAME.log.
step() {
  local name=$1
  shift
  local log=$out/$name.log
  local begin=$SECONDS
  local code=0
  (cd "$home/work" && "$@") >"$log" 2>&1 || code=$?
  if [ "$code" = 0 ]; then
    echo "ok    $name ($((SECONDS - begin)) s)"
    return 0
  fi
  echo "FAIL  $name (exit $code); the last lines of $log:" >&2
  tail -n 25 "$log" >&2
  echo "error: smoke test of $bundle failed at step '$name'" >&2
  exit 1
}

echo "== smoke test of $bundle (home folder $home)"
step version "${neuroonco[@]}" --version
step demo "${neuroonco[@]}" demo --json
step oracle-session "${neuroonco[@]}" bench run --benchmark "Demo benchmark" \
  --model baseline:semantics-oracle --setting rejection-aware --name smoke-oracle --json
step oracle-metrics "${neuroonco[@]}" "$checks" session "$out/oracle-session.log"
step queue-job "${neuroonco[@]}" bench run --benchmark "Demo benchmark" --model baseline:random \
  --name smoke-random --job --json
step worker "${neuroonco[@]}" -m engine.cli.main worker --once
step job-done "${neuroonco[@]}" "$checks" job "$out/queue-job.log"
step window "${neuroonco[@]}" gui --demo --screenshot "$out/main-window.png"
step screenshot "${neuroonco[@]}" "$checks" demo-window "$out/main-window.png"
step libraries "${neuroonco[@]}" "$checks" libraries
step tiny-models "${neuroonco[@]}" "$checks" tiny-models "$home/models"
step register-llava "${neuroonco[@]}" models add tiny-llava --backend transformers \
  --path "$home/models/llava" --no-hash
step register-gguf "${neuroonco[@]}" models add tiny-gguf --backend llama.cpp \
  --path "$home/models/gguf/model-f16.gguf" --mmproj "$home/models/gguf/mmproj-f16.gguf" --no-hash
image=$(find "$home/data" -path '*demo-benchmark*' -name '*.png' | sort | head -n 1)
if [ -z "$image" ]; then
  echo "error: the demo benchmark's images are missing under $home/data" >&2
  exit 1
fi
for model in tiny-llava tiny-gguf; do
  step "ask-$model" "${neuroonco[@]}" models ask "$model" --image "$image" \
    --question "Which MRI sequence is this?" --option A=T1 --option B=FLAIR --mode letters
  step "answer-$model" "${neuroonco[@]}" "$checks" answer "$out/ask-$model.log" AB
done
step model-session "${neuroonco[@]}" bench run --benchmark "Demo benchmark" --model tiny-gguf \
  --mode letter-prob --limit 6 --name smoke-gguf --json
step desktop-entry "${clean_env[@]}" "$bundle/install-desktop-entry.sh"
step desktop-file "${neuroonco[@]}" "$checks" desktop-entry \
  "$home/data/applications/neuroonco-workbench.desktop" "$bundle/neuroonco"

echo "Smoke test passed in $((SECONDS - started)) s; screenshot: $out/main-window.png"
