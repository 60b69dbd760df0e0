#!/usr/bin/env bash
# Create (or verify) a virtualenv with one of the project's tested stacks:
#
#   tools/setup_env.sh            stack 'current' -> .venv
#   tools/setup_env.sh torch2.1   stack 'torch2.1' -> .venv-torch2.1
#
# Each stack pins its versions in requirements/stack-<name>.txt, used as pip
# constraints in every install step. mmcv has no CPU wheel on PyPI; the one
# whose compiled ops load with the installed torch is taken, in this order,
# from
#   1. $MMCV_WHEEL_DIR or ../shared/wheels (its torch-<version>/ folder first),
#   2. the wheel cache $FASTERNET_MM_CACHE (default ~/.cache/fasternet_mm/wheels),
#   3. a build from the sdist (~35 min on 2 cores), whose wheel is then cached.
# A second run with unchanged requirements is a no-op.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STACK=${1:-current}
CONSTRAINTS=$ROOT/requirements/stack-$STACK.txt
if [ "$STACK" = current ]; then
    VENV=${VENV:-$ROOT/.venv}
else
    VENV=${VENV:-$ROOT/.venv-$STACK}
fi
PY=${PYTHON:-python3}
CACHE=${FASTERNET_MM_CACHE:-$HOME/.cache/fasternet_mm/wheels}
SHARED_WHEELS=${MMCV_WHEEL_DIR:-$ROOT/../shared/wheels}
STAMP=$VENV/.fasternet_mm-env

fail() {
    echo "setup_env: ERROR: $1" >&2
    [ $# -gt 1 ] && echo "setup_env: fix: $2" >&2
    exit 1
}
step() { echo "setup_env [$STACK]: $*"; }

[ -f "$CONSTRAINTS" ] || fail "unknown stack '$STACK'" \
    "use one of: $(cd "$ROOT/requirements" && ls stack-*.txt | sed 's/stack-//; s/\.txt//' | tr '\n' ' ')"
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

step "installing torch==$torch_ver, numpy and build tools"
"${PIP[@]}" -q "torch==$torch_ver" numpy setuptools wheel ninja psutil \
    || fail "pip could not install torch==$torch_ver" \
            "check network access to PyPI; on a GPU machine install your CUDA torch into the venv first and drop the torch pin"

# The installed torch decides which mmcv wheel fits (mmcv's ops link against
# it): a wheel is kept only if its ops import.
torch_full=$("$VENV/bin/python" -c 'import torch; print(torch.__version__)')
torch_base=${torch_full%%+*}
pytag=$("$VENV/bin/python" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
mmcv_ok() { "$VENV/bin/python" -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '$mmcv_ver'" 2>/dev/null; }

if mmcv_ok; then
    step "mmcv $mmcv_ver with ops already installed"
else
    for dir in "$SHARED_WHEELS/torch-$torch_base" "$SHARED_WHEELS" "$CACHE/torch-$torch_full"; do
        for wheel in "$dir"/mmcv-"$mmcv_ver"-"$pytag"-*.whl; do
            [ -f "$wheel" ] || continue
            step "trying $wheel"
            "${PIP[@]}" -q "$wheel" && mmcv_ok && break 2
            step "  its ops do not load with torch $torch_full; next"
            "$VENV/bin/python" -m pip uninstall -q -y mmcv
        done
    done
    if ! mmcv_ok; then
        step "no prebuilt mmcv $mmcv_ver wheel for torch $torch_full: building from source (about 35 minutes on 2 cores; once per machine)"
        mkdir -p "$CACHE/torch-$torch_full"
        build_dir=$(mktemp -d)
        "${PIP[@]}" -q "setuptools<70" \
            || fail "could not install setuptools<70 for the mmcv build"
        MMCV_WITH_OPS=1 FORCE_CUDA=${FORCE_CUDA:-0} MAX_JOBS=${MAX_JOBS:-$(nproc)} PIP_CONSTRAINT="$CONSTRAINTS" \
            "$VENV/bin/python" -m pip wheel --no-build-isolation --no-deps -w "$build_dir" "mmcv==$mmcv_ver" \
            || fail "building mmcv $mmcv_ver from source failed (see the compiler output above)" \
                    "install gcc/g++ and the Python headers (apt-get install build-essential python3-dev), then rerun"
        cp "$build_dir"/mmcv-*.whl "$CACHE/torch-$torch_full/"
        rm -rf "$build_dir"
        step "cached the built wheel in $CACHE/torch-$torch_full"
        "${PIP[@]}" -q --no-deps "$CACHE/torch-$torch_full"/mmcv-"$mmcv_ver"-*.whl \
            || fail "could not install the built mmcv wheel"
        mmcv_ok || fail "mmcv installed but 'import mmcv.ops' fails: the wheel does not match torch $torch_full" \
                        "delete $CACHE/torch-$torch_full and rerun to rebuild it"
    fi
    step "mmcv $mmcv_ver with ops installed"
fi

# A stack file may name its extras in a '# extras: a,b' line.
extras=$(sed -n 's/^# extras: *//p' "$CONSTRAINTS")
extras=${extras:-det,seg,deploy,dev}
step "installing fasternet_mm (editable) with the extras $extras"
"${PIP[@]}" -q setuptools -e "$ROOT[$extras]" \
    || fail "pip could not install the project's dependencies" "read pip's message above; pins are in $CONSTRAINTS"
"$VENV/bin/python" -c "import mmcv.ops, mmdet, mmseg, pkg_resources, fasternet_mm" \
    || fail "the installed stack does not import" "delete $VENV and rerun"
echo "$want" > "$STAMP"
step "ready in $(( $(date +%s) - start ))s: $VENV"
