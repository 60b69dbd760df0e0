# What the demos share; sourced by det_demo.sh (`make demo`) and
# seg_demo.sh (`make demo-seg`), which set the task and call run_demo:
#   1/3 data:  tools/misc/make_demo_data.py LAYOUT DATA_ROOT (its defaults;
#              an existing set is kept)
#   2/3 train: tools/train.py CONFIG, from scratch (no download)
#   3/3 test:  tools/test.py on the last checkpoint, with painted predictions
# then the metrics in one line and where the outputs are.
# Environment: PYTHON (default .venv/bin/python), DATA_ROOT (default
# data/<layout>_demo), WORK_DIR (default work_dirs/<config name>),
# CFG_OPTIONS (more --cfg-options for both tools, e.g. a shorter schedule).
#
# The caller sets:
#   DEMO            name in the progress lines, e.g. det_demo
#   CONFIG          the demo config
#   LAYOUT          coco or ade20k (tools/misc/make_demo_data.py)
#   WHAT            one line on what is trained
#   METRICS_FORMAT  Python format string of the result line; {m[KEY]} are
#                   the test metrics, e.g. {m[coco/bbox_mAP]:.3f}
# and may define data_options(), which prints the extra --cfg-options that
# point the config at $DATA_ROOT (the dataloaders' data_root is set here).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

PY=${PYTHON:-.venv/bin/python}
DATA_ROOT=${DATA_ROOT:-data/${LAYOUT}_demo}
WORK_DIR=${WORK_DIR:-work_dirs/$(basename "$CONFIG" .py)}
export PYTHONUNBUFFERED=1
# setuptools' notice about pkg_resources (imported by mmengine) is noise here.
export PYTHONWARNINGS=${PYTHONWARNINGS:-"ignore:pkg_resources is deprecated:UserWarning"}

start=$(date +%s)
stamp() { echo; echo "=== [$DEMO $(( $(date +%s) - start ))s] $*"; }

run_demo() {
    if [ ! -x "$PY" ] && ! command -v "$PY" >/dev/null; then
        echo "$DEMO: $PY not found; run 'make env' (tools/setup_env.sh) first" >&2
        exit 1
    fi
    local options=()
    for split in train val test; do
        options+=("${split}_dataloader.dataset.data_root=$DATA_ROOT/")
    done
    if declare -F data_options >/dev/null; then
        # shellcheck disable=SC2207
        options+=($(data_options))
    fi
    # shellcheck disable=SC2206
    options+=(${CFG_OPTIONS:-})
    local show_dir=$WORK_DIR/predictions
    [[ $show_dir = /* ]] || show_dir=$PWD/$show_dir

    stamp "1/3 data: $DATA_ROOT (synthetic shapes, $LAYOUT layout)"
    "$PY" tools/misc/make_demo_data.py "$LAYOUT" "$DATA_ROOT"

    stamp "2/3 train: $WHAT -> $WORK_DIR"
    "$PY" tools/train.py "$CONFIG" --work-dir "$WORK_DIR" \
        --cfg-options "${options[@]}"
    CHECKPOINT=$(cat "$WORK_DIR/last_checkpoint")

    stamp "3/3 test: $CHECKPOINT, painted predictions"
    rm -rf "$show_dir"
    "$PY" tools/test.py "$CONFIG" "$CHECKPOINT" --work-dir "$WORK_DIR/test" \
        --show-dir "$show_dir" --cfg-options "${options[@]}"

    # The metrics tools/test.py wrote (the newest run), in one line.
    METRICS=$(ls -t "$WORK_DIR"/test/*/*.json | head -n1)
    stamp "done in $(( $(date +%s) - start ))s"
    "$PY" - "$METRICS" "$METRICS_FORMAT" <<'PYEOF'
import json, sys
lines = open(sys.argv[1]).read().strip().splitlines()
print(sys.argv[2].format(m=json.loads(lines[-1])))
PYEOF
    echo "checkpoint:  $CHECKPOINT"
    echo "metrics:     $METRICS"
    echo "pictures:    ${show_dir#"$PWD"/} (ground truth left, prediction right)"
}
