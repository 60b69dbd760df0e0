#!/usr/bin/env bash
# Segmentation demo: UperNet + FasterNet-T0 on a small synthetic set in
# ADE20K's layout, on CPU, in a few minutes (`make demo-seg`).
#   1. generate data/ade20k_demo (once; kept afterwards)
#   2. train with tools/train.py (from scratch: no ImageNet weights needed)
#   3. evaluate mIoU with tools/test.py and save painted predictions
# Environment: PYTHON (default .venv/bin/python), WORK_DIR, DATA_ROOT.
set -euo pipefail
cd "$(dirname "$0")/../.."

PY=${PYTHON:-.venv/bin/python}
CONFIG=configs/demo/upernet_fasternet_t0_ade20k_demo.py
DATA_ROOT=${DATA_ROOT:-data/ade20k_demo}
WORK_DIR=${WORK_DIR:-work_dirs/upernet_fasternet_t0_ade20k_demo}
export PYTHONUNBUFFERED=1 PYTHONWARNINGS=${PYTHONWARNINGS:-ignore}
start=$(date +%s)
stamp() { echo "==> [$(( $(date +%s) - start ))s] $*"; }

if [ ! -x "$PY" ] && ! command -v "$PY" >/dev/null; then
    echo "error: $PY not found; run 'make env' (tools/setup_env.sh) first" >&2
    exit 1
fi
data_opts=()
for split in train val test; do
    data_opts+=("${split}_dataloader.dataset.data_root=$DATA_ROOT")
done

stamp "1/3 data: $DATA_ROOT (ADE20K layout, 300 training + 50 validation images)"
"$PY" tools/misc/make_demo_data.py ade20k "$DATA_ROOT"

stamp "2/3 train: UperNet + FasterNet-T0, 400 iterations -> $WORK_DIR"
"$PY" tools/train.py "$CONFIG" --work-dir "$WORK_DIR" \
    --cfg-options "${data_opts[@]}"
checkpoint=$(cat "$WORK_DIR/last_checkpoint")

stamp "3/3 test: mIoU of $checkpoint, painted predictions"
test_dir="$WORK_DIR/test"
show_dir="$WORK_DIR/predictions"
rm -rf "$show_dir"
"$PY" tools/test.py "$CONFIG" "$checkpoint" --work-dir "$test_dir" \
    --show-dir "$show_dir" --cfg-options "${data_opts[@]}"

"$PY" - "$test_dir" "$show_dir" <<'PYEOF'
import glob, json, os.path as osp, sys
test_dir, show_dir = sys.argv[1:]
logs = sorted(glob.glob(osp.join(test_dir, '*', '*.json')),
              key=osp.getmtime)
metrics = json.loads(open(logs[-1]).read().strip().splitlines()[-1])
pictures = glob.glob(osp.join(show_dir, '**', '*.png'), recursive=True)
print(f"mIoU {metrics['mIoU']:.2f}  mAcc {metrics['mAcc']:.2f}  "
      f"aAcc {metrics['aAcc']:.2f}  (percent, validation split)")
print(f'{len(pictures)} painted predictions (ground truth | prediction) in '
      f'{osp.dirname(pictures[0]) if pictures else show_dir}')
PYEOF
stamp "done"
