#!/usr/bin/env bash
# InvokeAI Desktop installer for Linux and macOS.
#
# Creates a Python virtual environment, installs the PyTorch build that fits this machine (CUDA for
# NVIDIA, ROCm for AMD, the Metal-enabled wheels on macOS, CPU otherwise), installs InvokeAI Desktop,
# then runs invokeai-configure to set up the root dir and download the weights.
#
#   installer/install.sh [--dry-run] [--yes] [--skip-downloads] [--root DIR] [--venv DIR]
#                        [--source PIP_SPEC] [--no-gui] [--python PYTHON]
#
# The hardware detection can be overridden (and is, by the tests):
#   INVOKEAI_FAKE_OS=Linux|Darwin     instead of `uname -s`
#   INVOKEAI_FAKE_ARCH=x86_64|arm64   instead of `uname -m`
#   INVOKEAI_FAKE_GPU=cuda|rocm|none  instead of probing nvidia-smi / rocminfo
#   INVOKEAI_FAKE_CUDA_VERSION=12.8   instead of the version nvidia-smi reports
#   INVOKEAI_TORCH_INDEX=URL          use this PyTorch wheel index, whatever was detected

set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PROJECT_DIR="$(cd "$SCRIPT_DIR/.." && pwd)"
TORCH_INDEX_BASE="https://download.pytorch.org/whl"

DRY_RUN=0
GUI=1
ROOT_DIR="${INVOKEAI_ROOT:-}"
VENV_DIR="${INVOKEAI_VENV:-}"
SOURCE=""
PYTHON="${PYTHON:-}"
CONFIGURE_ARGS=()

usage() {
    sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

die() {
    echo "install.sh: $*" >&2
    exit 1
}

while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run) DRY_RUN=1 ;;
        --yes|-y) CONFIGURE_ARGS+=("--yes") ;;
        --skip-downloads) CONFIGURE_ARGS+=("--skip-downloads") ;;
        --no-gui) GUI=0 ;;
        --root) [ $# -ge 2 ] || die "--root needs a folder"; ROOT_DIR="$2"; shift ;;
        --venv) [ $# -ge 2 ] || die "--venv needs a folder"; VENV_DIR="$2"; shift ;;
        --source) [ $# -ge 2 ] || die "--source needs a pip requirement or path"; SOURCE="$2"; shift ;;
        --python) [ $# -ge 2 ] || die "--python needs an interpreter"; PYTHON="$2"; shift ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
    shift
done

# Runs a command, or only shows it with --dry-run.
run() {
    printf '+'
    printf ' %q' "$@"
    printf '\n'
    if [ "$DRY_RUN" -eq 0 ]; then
        "$@"
    fi
}

# ---- what machine is this? -------------------------------------------------------------------

OS_NAME="${INVOKEAI_FAKE_OS:-$(uname -s)}"
ARCH="${INVOKEAI_FAKE_ARCH:-$(uname -m)}"

detect_gpu() {
    if [ -n "${INVOKEAI_FAKE_GPU:-}" ]; then
        echo "$INVOKEAI_FAKE_GPU"
    elif command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
        echo cuda
    elif command -v rocminfo >/dev/null 2>&1 && rocminfo 2>/dev/null | grep -q 'gfx[0-9]'; then
        echo rocm
    else
        echo none
    fi
}

# The highest CUDA version the NVIDIA driver supports, e.g. 12.8.
cuda_driver_version() {
    if [ -n "${INVOKEAI_FAKE_CUDA_VERSION:-}" ]; then
        echo "$INVOKEAI_FAKE_CUDA_VERSION"
    else
        nvidia-smi 2>/dev/null | sed -n 's/.*CUDA Version: *\([0-9][0-9]*\.[0-9][0-9]*\).*/\1/p' | head -n 1
    fi
}

# Prints "<description>|<wheel index URL or empty for PyPI>".
choose_torch() {
    local gpu version major minor
    case "$OS_NAME" in
        Darwin)
            if [ "$ARCH" = "arm64" ]; then
                echo "macOS on Apple silicon: PyPI wheels with Metal (MPS) acceleration|"
            else
                echo "macOS on Intel: PyPI wheels (CPU, or Metal where the GPU supports it)|"
            fi
            return
            ;;
        Linux) ;;
        MINGW*|MSYS*|CYGWIN*|Windows*)
            die "this script is for Linux and macOS; on Windows install with pip (see README)" ;;
        *) die "unsupported system $OS_NAME" ;;
    esac
    gpu="$(detect_gpu)"
    case "$gpu" in
        cuda)
            version="$(cuda_driver_version)"
            major="${version%%.*}"
            minor="${version#*.}"
            if [ -z "$version" ] || ! [ "$major" -eq "$major" ] 2>/dev/null; then
                echo "NVIDIA GPU (driver CUDA version unknown): CUDA 12.6 build|$TORCH_INDEX_BASE/cu126"
            elif [ "$major" -ge 13 ]; then
                echo "NVIDIA GPU, driver supports CUDA $version: CUDA 13.0 build|$TORCH_INDEX_BASE/cu130"
            elif [ "$major" -eq 12 ] && [ "$minor" -ge 8 ]; then
                echo "NVIDIA GPU, driver supports CUDA $version: CUDA 12.8 build|$TORCH_INDEX_BASE/cu128"
            elif [ "$major" -eq 12 ] && [ "$minor" -ge 6 ]; then
                echo "NVIDIA GPU, driver supports CUDA $version: CUDA 12.6 build|$TORCH_INDEX_BASE/cu126"
            else
                echo "NVIDIA GPU, driver supports only CUDA $version: CUDA 12.6 build (update the NVIDIA driver if PyTorch cannot see the GPU)|$TORCH_INDEX_BASE/cu126"
            fi
            ;;
        rocm) echo "AMD GPU (ROCm): ROCm 6.4 build|$TORCH_INDEX_BASE/rocm6.4" ;;
        none) echo "no supported GPU found: CPU build|$TORCH_INDEX_BASE/cpu" ;;
        *) die "INVOKEAI_FAKE_GPU must be cuda, rocm or none, not $gpu" ;;
    esac
}

default_root() {
    if [ "$OS_NAME" = "Darwin" ]; then
        echo "$HOME/Library/Application Support/invokeai"
    else
        echo "${XDG_DATA_HOME:-$HOME/.local/share}/invokeai"
    fi
}

find_python() {
    local candidate
    if [ -n "$PYTHON" ]; then
        echo "$PYTHON"
        return
    fi
    for candidate in python3.12 python3.11 python3.10 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' 2>/dev/null; then
            echo "$candidate"
            return
        fi
    done
    echo ""
}

# ---- the plan -------------------------------------------------------------------------------

TORCH_CHOICE="$(choose_torch)"
TORCH_DESCRIPTION="${TORCH_CHOICE%%|*}"
TORCH_INDEX="${INVOKEAI_TORCH_INDEX:-${TORCH_CHOICE#*|}}"
ROOT_DIR="${ROOT_DIR:-$(default_root)}"
VENV_DIR="${VENV_DIR:-$ROOT_DIR/.venv}"
PY="$(find_python)"
if [ -z "$PY" ]; then
    if [ "$DRY_RUN" -eq 1 ]; then
        PY=python3
    else
        die "Python 3.10 or newer is needed; install it (e.g. sudo apt install python3 python3-venv) and run again"
    fi
fi
if [ -z "$SOURCE" ]; then
    SOURCE="$PROJECT_DIR"
fi
if [ "$GUI" -eq 1 ]; then
    if [ -d "$SOURCE" ]; then
        SOURCE="${SOURCE}[gui]"
    fi
fi

echo "System:  $OS_NAME $ARCH"
echo "Torch:   $TORCH_DESCRIPTION"
echo "Index:   ${TORCH_INDEX:-PyPI (default)}"
echo "Root:    $ROOT_DIR"
echo "Venv:    $VENV_DIR"
echo "Python:  $PY"
if [ "$DRY_RUN" -eq 1 ]; then
    echo "Dry run: these commands would run:"
fi

TORCH_ARGS=(torch torchvision)
if [ -n "$TORCH_INDEX" ]; then
    TORCH_ARGS+=(--index-url "$TORCH_INDEX")
fi

run "$PY" -m venv "$VENV_DIR"
run "$VENV_DIR/bin/python" -m pip install --upgrade pip
run "$VENV_DIR/bin/python" -m pip install "${TORCH_ARGS[@]}"
run "$VENV_DIR/bin/python" -m pip install "$SOURCE"
# (The odd expansion keeps an empty array working under `set -u` in macOS's bash 3.2.)
run "$VENV_DIR/bin/invokeai-configure" --root "$ROOT_DIR" ${CONFIGURE_ARGS[@]+"${CONFIGURE_ARGS[@]}"}

echo
if [ "$DRY_RUN" -eq 1 ]; then
    echo "Dry run: nothing was installed. Once installed, start InvokeAI with:"
else
    echo "Installed. Start InvokeAI with:"
fi
echo "  \"$VENV_DIR/bin/invokeai\" --root \"$ROOT_DIR\" --web    (in your browser)"
echo "  \"$VENV_DIR/bin/invokeai\" --root \"$ROOT_DIR\" --gui    (in its own window)"
