#!/usr/bin/env bash
# The detection demo (`make demo`): Mask R-CNN with a FasterNet-T0 backbone,
# from scratch, on a synthetic COCO-format set (data/coco_demo: 200 + 50
# images of shapes), through the standard tools; COCO bbox and segm AP from
# pycocotools. Its time on 2 CPU cores: README.md, Quick start.
# Steps, messages and environment (PYTHON, DATA_ROOT, WORK_DIR): tools/demo/common.sh.
DEMO=det_demo
CONFIG=configs/demo/mask_rcnn_fasternet_t0_coco_demo.py
LAYOUT=coco
WHAT="Mask R-CNN + FasterNet-T0, 6 epochs"
METRICS_FORMAT='bbox AP {m[coco/bbox_mAP]:.3f} (AP50 {m[coco/bbox_mAP_50]:.3f})   segm AP {m[coco/segm_mAP]:.3f} (AP50 {m[coco/segm_mAP_50]:.3f})'
data_options() {
    local ann=$DATA_ROOT/annotations/instances_val2017.json
    echo "val_evaluator.ann_file=$ann test_evaluator.ann_file=$ann"
}
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

run_demo
echo "one picture: $PY tools/image_demo.py $DATA_ROOT/val2017/000000000001.png $CONFIG $CHECKPOINT --out-file outputs/image_demo.jpg"
