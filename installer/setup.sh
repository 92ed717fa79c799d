#!/usr/bin/env bash
# Create .venv in the repository, install NeuroOnco Workbench with everything it needs
# (CPU PyTorch, llama-cpp-python built from source, test tools), then open the
# application on the demo study.
#
#   installer/setup.sh               set up, then open the application
#   installer/setup.sh --no-launch   set up only (CI, headless machines)
#
# Environment:
#   PYTHON        interpreter to build the environment from (default: python3.11, else python3)
#   TORCH_SPEC    torch requirement (default: torch==2.13.0, the CPU wheel); see docs/gpu.md
#   TORCH_INDEX_URL  package index for torch, e.g. a CUDA wheel index (docs/gpu.md)
#   CMAKE_ARGS    passed to the llama-cpp-python build, e.g. -DGGML_CUDA=on (docs/gpu.md)
#   NEUROONCO_SKIP_APT=1  do not install missing Debian packages (install them yourself)
set -euo pipefail

launch=1
for arg in "$@"; do
  case "$arg" in
    --no-launch) launch=0 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "error: unknown option '$arg'; use --no-launch or --help" >&2; exit 2 ;;
  esac
done

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

python=${PYTHON:-}
if [ -z "$python" ]; then
  if command -v python3.11 >/dev/null 2>&1; then python=python3.11; else python=python3; fi
fi
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "error: $python is $("$python" -V 2>&1); NeuroOnco Workbench needs Python 3.11 or newer (set PYTHON=...)" >&2
  exit 1
fi

# Debian packages: a compiler for llama.cpp, the libraries Qt needs (also offscreen), a
# font, and mricron-data (Colin27 and the AAL atlas, used by the tests).
debian_packages=(build-essential cmake libegl1 libgl1 libfontconfig1 libdbus-1-3
  libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 fonts-dejavu-core mricron-data)
if [ "${NEUROONCO_SKIP_APT:-0}" != 1 ] && command -v dpkg >/dev/null 2>&1; then
  missing=()
  for package in "${debian_packages[@]}"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    echo "== installing Debian packages: ${missing[*]}"
    $sudo apt-get install -y --no-install-recommends "${missing[@]}" \
      || { $sudo apt-get update -qq && $sudo apt-get install -y --no-install-recommends "${missing[@]}"; }
  fi
fi

llama_version=${LLAMA_CPP_PYTHON_VERSION:-0.3.36}
torch_spec=${TORCH_SPEC:-torch==2.13.0}

echo "== creating .venv with $("$python" -V 2>&1)"
[ -x .venv/bin/python ] || "$python" -m venv .venv
pip=(.venv/bin/python -m pip --disable-pip-version-check)

echo "== installing $torch_spec"
if [ -n "${TORCH_INDEX_URL:-}" ]; then
  "${pip[@]}" install "$torch_spec" --index-url "$TORCH_INDEX_URL"
else
  "${pip[@]}" install "$torch_spec"
fi

# llama-cpp-python is published as a source distribution only. Keep the sdist: its
# vendored llama.cpp holds convert_hf_to_gguf.py, which the engine uses to turn merged
# fine-tunes (and the tests' tiny models) into GGUF files.
sdist_dir=.venv/share/neuroonco/sdist
convert_dir=.venv/share/neuroonco/llama.cpp
mkdir -p "$sdist_dir"
sdist=$(ls "$sdist_dir"/llama_cpp_python-"$llama_version".tar.gz 2>/dev/null || true)
if [ -z "$sdist" ]; then
  echo "== downloading the llama-cpp-python $llama_version source distribution"
  "${pip[@]}" download --no-deps --no-binary :all: "llama-cpp-python==$llama_version" -d "$sdist_dir"
  sdist=$(ls "$sdist_dir"/llama_cpp_python-"$llama_version".tar.gz)
fi
if [ ! -f "$convert_dir/convert_hf_to_gguf.py" ]; then
  echo "== extracting the GGUF converter from $sdist"
  rm -rf "$convert_dir" && mkdir -p "$convert_dir"
  tar -xzf "$sdist" -C "$convert_dir" --strip-components=3 --wildcards \
    "*/vendor/llama.cpp/convert_hf_to_gguf.py" "*/vendor/llama.cpp/convert_lora_to_gguf.py" \
    "*/vendor/llama.cpp/gguf-py" "*/vendor/llama.cpp/conversion" 2>/dev/null \
  || tar -xzf "$sdist" -C "$convert_dir" --strip-components=3 --wildcards \
    "*/vendor/llama.cpp/convert_hf_to_gguf.py" "*/vendor/llama.cpp/gguf-py"
fi

if ! .venv/bin/python -c 'import llama_cpp' 2>/dev/null; then
  echo "== building llama-cpp-python $llama_version (about 5 minutes on 2 cores; pip caches the wheel)"
  "${pip[@]}" install "$sdist"
fi

echo "== installing NeuroOnco Workbench and its test tools"
"${pip[@]}" install -e ".[dev]"

echo "== checking the installation"
.venv/bin/neuroonco --version

if [ "$launch" = 1 ]; then
  echo "== opening the demo study"
  exec .venv/bin/neuroonco gui --demo
fi
echo "Set-up finished. Open the application with: .venv/bin/neuroonco gui --demo"
