#!/usr/bin/env bash
# FasterNet on one GPU, with only PyTorch installed: backbone throughput of
# FasterNet-T0 / S against ResNet-50 (torchvision's) in fp32, fp16,
# channels_last and torch.compile, and the time of an AMP training step;
# within 8 minutes.
#
#   bash tools/analysis_tools/gpu_check.sh prepare [WHEELS]
#       here, with PyPI: the wheels FasterNet's model layer needs beyond
#       PyTorch (mmengine, mmcv 2.1.0 built without ops, and their pure
#       Python dependencies) into WHEELS (default .whl, for Python 3.12)
#   bash tools/analysis_tools/gpu_check.sh run [WHEELS] [OUT]
#       on the GPU machine: installs them into a temporary folder
#       (--no-index) and measures; prints a table and writes OUT (default
#       gpu_check.json)
set -euo pipefail
cd "$(dirname "$0")/../.."
MODE=${1:-run}
WHEELS=${2:-.whl}

if [ "$MODE" = prepare ]; then
    PY=${PYTHON:-.venv/bin/python}  # with setuptools and wheel (make env)
    mkdir -p "$WHEELS"
    "$PY" -m pip download -q --no-deps --only-binary=:all: \
        --python-version 3.12 --implementation cp \
        --platform manylinux2014_x86_64 -d "$WHEELS" \
        mmengine==0.10.7 addict==2.4.0 yapf==0.43.0 termcolor==2.5.0 \
        platformdirs==4.3.6 tomli==2.2.1
    # mmcv's Python parts only (its wheel is then named mmcv-lite)
    src=$(mktemp -d)
    "$PY" -m pip download -q --no-deps --no-binary=:all: -d "$src" mmcv==2.1.0
    MMCV_WITH_OPS=0 "$PY" -m pip wheel -q --no-deps --no-build-isolation \
        -w "$WHEELS" "$src"/mmcv-2.1.0.tar.gz
    rm -rf "$src"
    ls "$WHEELS"
    exit 0
fi

OUT=${3:-gpu_check.json}
SITE=$(mktemp -d)
python3 -m pip install -q --no-index --no-deps --no-compile --target "$SITE" \
    "$WHEELS"/*.whl
export PYTHONPATH="$PWD:$SITE${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
timeout 480 python3 - "$OUT" <<'EOF'
import json
import sys
import time

import torch

from fasternet_mm import FasterNet

assert torch.cuda.is_available(), 'no CUDA device'
torch.backends.cudnn.benchmark = True
dev = torch.device('cuda')
BATCH, SIZE = 128, 224


def backbone(name):
    if name == 'resnet50':
        import torchvision
        model = torchvision.models.resnet50()
        model.fc = torch.nn.Identity()
        return model
    return FasterNet(name)


def throughput(model, x, seconds=3.):
    """Images per second of model(x), after warm-up, CUDA-synchronised."""
    with torch.no_grad():
        for _ in range(5):
            model(x)
        torch.cuda.synchronize()
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            model(x)
            n += 1
        torch.cuda.synchronize()
    return n * x.shape[0] / (time.perf_counter() - start)


def train_step_ms(model, x, steps=20):
    """Milliseconds of one AMP (fp16) step: forward, loss, scaled backward,
    optimizer step."""
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    scaler = torch.cuda.amp.GradScaler()
    model.train()
    for i in range(steps + 5):
        if i == 5:
            torch.cuda.synchronize()
            start = time.perf_counter()
        with torch.autocast('cuda', dtype=torch.float16):
            out = model(x)
            loss = sum(o.float().mean() for o in (
                out if isinstance(out, (tuple, list)) else [out]))
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
    torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps * 1e3


rows = []
for name in ('t0', 's', 'resnet50'):
    base = backbone(name).to(dev).eval()
    x = torch.randn(BATCH, 3, SIZE, SIZE, device=dev)
    cases = {
        'fp32': (base, x),
        'fp32 channels_last': (base.to(memory_format=torch.channels_last),
                               x.contiguous(memory_format=torch.channels_last)),
    }
    half = backbone(name).to(dev).eval().half().to(
        memory_format=torch.channels_last)
    xh = x.half().contiguous(memory_format=torch.channels_last)
    cases['fp16 channels_last'] = (half, xh)
    cases['fp16 channels_last compile'] = (torch.compile(half), xh)
    for mode, (model, inp) in cases.items():
        rows.append(dict(model=name, mode=mode, batch=BATCH, size=SIZE,
                         images_per_s=round(throughput(model, inp), 1)))
        print(rows[-1])
    train = backbone(name).to(dev).to(memory_format=torch.channels_last)
    rows.append(dict(model=name, mode='AMP train step', batch=64, size=SIZE,
                     ms=round(train_step_ms(
                         train, x[:64].contiguous(
                             memory_format=torch.channels_last)), 2)))
    print(rows[-1])
    del base, half, train
    torch.cuda.empty_cache()

env = dict(gpu=torch.cuda.get_device_name(), torch=torch.__version__,
           cuda=torch.version.cuda)
print(env)
resnet = {r['mode']: r for r in rows if r['model'] == 'resnet50'}
for r in rows:
    ref = resnet[r['mode']]
    ratio = (r['images_per_s'] / ref['images_per_s'] if 'images_per_s' in r
             else ref['ms'] / r['ms'])
    print(f"{r['model']:>9} {r['mode']:<28} "
          f"{r.get('images_per_s', r.get('ms')):>10} "
          f"{'img/s' if 'images_per_s' in r else 'ms':<6} {ratio:.2f}x R50")
with open(sys.argv[1], 'w') as f:
    json.dump(dict(environment=env, results=rows), f, indent=2)
EOF
