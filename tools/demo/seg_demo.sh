#!/usr/bin/env bash
# The segmentation demo (`make demo-seg`): UperNet with a FasterNet-T0
# backbone, from scratch, on a synthetic set in ADE20K's layout
# (data/ade20k_demo: 300 + 50 images of shapes), through the standard tools;
# mIoU, mAcc, aAcc. Its time on 2 CPU cores: README.md, Quick start.
# Steps, messages and environment (PYTHON, DATA_ROOT, WORK_DIR): tools/demo/common.sh.
DEMO=seg_demo
CONFIG=configs/demo/upernet_fasternet_t0_ade20k_demo.py
LAYOUT=ade20k
WHAT="UperNet + FasterNet-T0, 400 iterations"
METRICS_FORMAT='mIoU {m[mIoU]:.2f}  mAcc {m[mAcc]:.2f}  aAcc {m[aAcc]:.2f}  (percent, validation split)'
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

run_demo
