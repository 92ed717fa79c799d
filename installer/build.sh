#!/usr/bin/env bash
# Build the one-folder Linux desktop bundle dist/neuroonco-workbench/ with PyInstaller,
# from the environment that installer/setup.sh created. It took 3 to 8 minutes on two shared
# cores (docs/benchmarks.md); installer/smoke.sh then checks the result.
#
#   installer/build.sh            build (an existing dist/neuroonco-workbench is replaced)
#   installer/build.sh --clean    also drop PyInstaller's cache in build/pyinstaller first
#
# Environment:
#   NEUROONCO_PYTHON  interpreter of the build environment (default: .venv/bin/python)
#
# PyInstaller and its hooks, at the versions pinned below, are installed into that
# environment when they are missing. The bundle takes PyTorch and llama-cpp-python as the
# environment has them: CPU builds from setup.sh's defaults, CUDA builds when setup.sh ran
# with TORCH_INDEX_URL and CMAKE_ARGS=-DGGML_CUDA=on (docs/installer.md).
set -euo pipefail

PYINSTALLER_VERSION=6.22.3
HOOKS_CONTRIB_VERSION=2026.10
NAME=neuroonco-workbench

clean=0
for arg in "$@"; do
  case "$arg" in
    --clean) clean=1 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "error: unknown option '$arg'; use --clean or --help" >&2; exit 2 ;;
  esac
done

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
python=${NEUROONCO_PYTHON:-.venv/bin/python}
if [ ! -x "$python" ] && ! command -v "$python" >/dev/null 2>&1; then
  echo "error: no Python at '$python'; run installer/setup.sh --no-launch first or set NEUROONCO_PYTHON" >&2
  exit 1
fi
if ! "$python" -c 'import torch, PySide6, llama_cpp, transformers, engine' 2>/dev/null; then
  echo "error: $python lacks the workbench or one of torch, PySide6, llama_cpp, transformers;" \
       "run installer/setup.sh --no-launch first" >&2
  exit 1
fi
started=$SECONDS

installed=$("$python" -c 'import PyInstaller; print(PyInstaller.__version__)' 2>/dev/null || true)
hooks=$("$python" -c 'from importlib.metadata import version; print(version("pyinstaller-hooks-contrib"))' \
  2>/dev/null || true)
if [ "$installed" != "$PYINSTALLER_VERSION" ] || [ "$hooks" != "$HOOKS_CONTRIB_VERSION" ]; then
  echo "== installing pyinstaller $PYINSTALLER_VERSION and pyinstaller-hooks-contrib $HOOKS_CONTRIB_VERSION"
  "$python" -m pip --disable-pip-version-check install \
    "pyinstaller==$PYINSTALLER_VERSION" "pyinstaller-hooks-contrib==$HOOKS_CONTRIB_VERSION"
fi

variant=$("$python" -c 'import torch; print("CUDA " + torch.version.cuda if torch.version.cuda else "CPU")')
echo "== bundling with $("$python" -V 2>&1), torch $("$python" -c 'import torch; print(torch.__version__)') ($variant)"

workpath=build/pyinstaller
[ "$clean" = 1 ] && rm -rf "$workpath"
bundle=dist/$NAME
rm -rf "$bundle"
"$python" -m PyInstaller --noconfirm --log-level WARN --distpath dist --workpath "$workpath" \
  installer/neuroonco.spec

echo "== adding the desktop entry and its installer"
cp installer/neuroonco-workbench.desktop installer/install-desktop-entry.sh "$bundle/"
cp resources/icons/neuroonco-workbench.svg resources/icons/neuroonco-workbench.png "$bundle/"
chmod +x "$bundle/install-desktop-entry.sh"
{
  echo "NeuroOnco Workbench $("$python" -c 'import engine; print(engine.__version__)')"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -srm)"
  echo "python: $("$python" -V 2>&1)"
  "$python" - <<'PYTHON'
from importlib.metadata import version
for name in ("torch", "llama_cpp_python", "PySide6-Essentials", "transformers", "pyinstaller"):
    print(f"{name}: {version(name)}")
PYTHON
  echo "torch variant: $variant"
} > "$bundle/BUILD-INFO.txt"

elapsed=$((SECONDS - started))
echo "Built $bundle ($(du -sh "$bundle" | cut -f1)) in $((elapsed / 60)) min $((elapsed % 60)) s."
echo "Check it with: installer/smoke.sh"
