#!/usr/bin/env bash
# The embedded detection demo (`make demo`): Mask R-CNN with a FasterNet-T0
# backbone on a synthetic COCO-format set, through the standard tools.
#   1. generate data/coco_demo if it is missing (tools/misc/make_demo_data.py coco)
#   2. train from scratch (tools/train.py)
#   3. evaluate: COCO bbox and segm AP from pycocotools (tools/test.py), and
#      save the pictures of the predictions (--show-dir)
# About 7 minutes on 2 CPU cores. Environment: PYTHON (default .venv/bin/python),
# WORK_DIR (default work_dirs/mask_rcnn_fasternet_t0_coco_demo).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
PY=${PYTHON:-.venv/bin/python}
CONFIG=configs/demo/mask_rcnn_fasternet_t0_coco_demo.py
DATA=data/coco_demo
WORK_DIR=${WORK_DIR:-work_dirs/mask_rcnn_fasternet_t0_coco_demo}
SHOW_DIR=$ROOT/$WORK_DIR/predictions
export PYTHONUNBUFFERED=1
# setuptools' notice about pkg_resources (imported by mmengine) is noise here.
export PYTHONWARNINGS=${PYTHONWARNINGS:-"ignore:pkg_resources is deprecated:UserWarning"}

[ -x "$PY" ] || { echo "det_demo: $PY not found; run 'make env' first" >&2; exit 1; }
start=$(date +%s)
stamp() { echo; echo "=== [det_demo $(( $(date +%s) - start ))s] $*"; }

stamp "1/3 data: $DATA (synthetic shapes, COCO format)"
"$PY" tools/misc/make_demo_data.py coco "$DATA" --num-train 200 --num-val 50 --img-size 160 --seed 0

stamp "2/3 train: $CONFIG -> $WORK_DIR"
"$PY" tools/train.py "$CONFIG" --work-dir "$WORK_DIR"
CKPT=$(cat "$WORK_DIR/last_checkpoint")

stamp "3/3 test: COCO bbox and segm AP of $CKPT"
rm -rf "$SHOW_DIR"
"$PY" tools/test.py "$CONFIG" "$CKPT" --work-dir "$WORK_DIR/test" --show-dir "$SHOW_DIR"

# The metrics tools/test.py logged, in one line.
METRICS=$(ls -t "$WORK_DIR"/test/*/*.json | head -n1)
stamp "done in $(( $(date +%s) - start ))s"
"$PY" - "$METRICS" <<'PYEOF'
import json, sys
m = json.load(open(sys.argv[1]))
print(f"bbox AP {m['coco/bbox_mAP']:.3f} (AP50 {m['coco/bbox_mAP_50']:.3f})   "
      f"segm AP {m['coco/segm_mAP']:.3f} (AP50 {m['coco/segm_mAP_50']:.3f})")
PYEOF
echo "checkpoint:  $CKPT"
echo "metrics:     $METRICS"
echo "pictures:    $SHOW_DIR (ground truth left, prediction right)"
echo "one picture: $PY tools/image_demo.py $DATA/val2017/000000000001.png $CONFIG $CKPT --out-file outputs/image_demo.jpg"
