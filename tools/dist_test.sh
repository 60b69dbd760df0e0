#!/usr/bin/env bash
# Test (COCO evaluation) on several GPUs with torchrun (as MMDetection's
# tools/dist_test.sh):
#   bash tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py arguments...]
#   bash tools/dist_test.sh configs/mask_rcnn_fasternet_s.py \
#       work_dirs/mask_rcnn_fasternet_s/epoch_12.pth 8
# Multi-node: set NNODES, NODE_RANK, MASTER_ADDR (and PORT) on each node.
# Python: $PYTHON, else the project's .venv, else `python`.
set -euo pipefail
if [ $# -lt 3 ]; then
    echo "usage: $0 CONFIG CHECKPOINT GPUS [test.py arguments...]" >&2
    exit 2
fi
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${PYTHON:-}" ]; then
    if [ -x "$ROOT/.venv/bin/python" ]; then PYTHON=$ROOT/.venv/bin/python; else PYTHON=python; fi
fi

PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" \
"$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$GPUS" \
    --master_port="$PORT" \
    "$ROOT/tools/test.py" \
    "$CONFIG" \
    "$CHECKPOINT" \
    --launcher pytorch "${@:4}"
