#!/usr/bin/env bash
# Create (or verify) the project's virtualenv at .venv with the pinned stack:
# torch (CPU), mmengine, mmcv with compiled ops, mmdet, mmsegmentation.
#
# mmcv has no CPU wheel on PyPI. It is taken, in this order, from
#   1. $MMCV_WHEEL_DIR or ../shared/wheels (a wheel matching this Python and torch),
#   2. the wheel cache $FASTERNET_MM_CACHE (default ~/.cache/fasternet_mm/wheels),
#   3. a build from the sdist (~35 min on 2 cores), whose wheel is then cached.
# A second run with unchanged requirements is a no-op.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${VENV:-$ROOT/.venv}
PY=${PYTHON:-python3}
CONSTRAINTS=$ROOT/requirements/constraints-cpu.txt
CACHE=${FASTERNET_MM_CACHE:-$HOME/.cache/fasternet_mm/wheels}
SHARED_WHEELS=${MMCV_WHEEL_DIR:-$ROOT/../shared/wheels}
STAMP=$VENV/.fasternet_mm-env

fail() {
    echo "setup_env: ERROR: $1" >&2
    [ $# -gt 1 ] && echo "setup_env: fix: $2" >&2
    exit 1
}
step() { echo "setup_env: $*"; }

want=$(cat "$CONSTRAINTS" "$ROOT/setup.py" | sha256sum | cut -d' ' -f1)
if [ -x "$VENV/bin/python" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
    step "environment $VENV is up to date"
    exit 0
fi

start=$(date +%s)
command -v "$PY" >/dev/null || fail "'$PY' not found" "install Python 3.11 or set PYTHON=/path/to/python3"
if [ ! -x "$VENV/bin/python" ]; then
    step "creating virtualenv $VENV"
    "$PY" -m venv "$VENV" || fail "could not create $VENV" "install the venv module (apt-get install python3-venv)"
fi
PIP=("$VENV/bin/python" -m pip install --disable-pip-version-check -c "$CONSTRAINTS")
torch_ver=$(grep -E '^torch==' "$CONSTRAINTS" | cut -d= -f3)
mmcv_ver=$(grep -E '^mmcv==' "$CONSTRAINTS" | cut -d= -f3)

step "installing torch==$torch_ver and build tools"
"${PIP[@]}" -q "torch==$torch_ver" setuptools wheel ninja psutil \
    || fail "pip could not install torch==$torch_ver" \
            "check network access to PyPI; on a GPU machine install your CUDA torch into .venv first and drop the torch pin"

# The installed torch decides which mmcv wheel fits (mmcv's ops link against it).
torch_full=$("$VENV/bin/python" -c 'import torch; print(torch.__version__)')
pytag=$("$VENV/bin/python" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
mmcv_ok() { "$VENV/bin/python" -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '$mmcv_ver'" 2>/dev/null; }

if mmcv_ok; then
    step "mmcv $mmcv_ver with ops already installed"
else
    wheel=""
    for dir in "$SHARED_WHEELS" "$CACHE/torch-$torch_full"; do
        cand=$(ls "$dir"/mmcv-"$mmcv_ver"-"$pytag"-*.whl 2>/dev/null | head -n1 || true)
        # Shared wheels are built for the pinned CPU torch only.
        if [ -n "$cand" ] && { [ "$dir" != "$SHARED_WHEELS" ] || [ "$torch_full" = "$torch_ver+cpu" ]; }; then
            wheel=$cand; break
        fi
    done
    if [ -z "$wheel" ]; then
        step "no prebuilt mmcv $mmcv_ver wheel for torch $torch_full: building from source (about 35 minutes on 2 cores; once per machine)"
        mkdir -p "$CACHE/torch-$torch_full"
        build_dir=$(mktemp -d)
        "$VENV/bin/python" -m pip install -q "setuptools<70" \
            || fail "could not install setuptools<70 for the mmcv build"
        MMCV_WITH_OPS=1 FORCE_CUDA=${FORCE_CUDA:-0} MAX_JOBS=${MAX_JOBS:-$(nproc)} \
            "$VENV/bin/python" -m pip wheel --no-build-isolation --no-deps -w "$build_dir" "mmcv==$mmcv_ver" \
            || fail "building mmcv $mmcv_ver from source failed (see the compiler output above)" \
                    "install gcc/g++ and the Python headers (apt-get install build-essential python3-dev), then rerun"
        cp "$build_dir"/mmcv-*.whl "$CACHE/torch-$torch_full/"
        wheel=$(ls "$CACHE/torch-$torch_full"/mmcv-"$mmcv_ver"-*.whl | head -n1)
        rm -rf "$build_dir"
        step "cached the built wheel in $CACHE/torch-$torch_full"
    fi
    step "installing $wheel"
    "${PIP[@]}" -q "$wheel" || fail "could not install $wheel"
    mmcv_ok || fail "mmcv installed but 'import mmcv.ops' fails: the wheel does not match torch $torch_full" \
                    "delete $CACHE/torch-$torch_full and rerun to rebuild it"
fi

step "installing fasternet_mm (editable) with mmdet, mmsegmentation and test/deploy extras"
"${PIP[@]}" -q setuptools -e "$ROOT[det,seg,deploy,dev]" \
    || fail "pip could not install the project's dependencies" "read pip's message above; pins are in $CONSTRAINTS"
"$VENV/bin/python" -c "import mmcv.ops, mmdet, mmseg, pkg_resources, fasternet_mm" \
    || fail "the installed stack does not import" "delete .venv and rerun 'make env'"
echo "$want" > "$STAMP"
step "ready in $(( $(date +%s) - start ))s: $VENV"
