# RetinaNet + FPN with a FasterNet-S backbone on COCO, 1x: the single-stage
# baseline most backbone papers report. The paper has no RetinaNet; this
# config has not been trained.
# Recipe: MMDetection's retinanet_r50_fpn_1x_coco (model, data, 1x schedule:
# 12 epochs, lr steps after epochs 8 and 11, 500 warm-up iterations,
# 1333x800, flip 0.5, 16 images per batch) with the FasterNet paper's
# detection optimiser (its Mask R-CNN: AdamW, lr 2e-4, weight decay 1e-4) in
# place of SGD, as MMDetection's PVT RetinaNets swap SGD for AdamW.
# (The base inherits retinanet_tta.py: tools/test.py --tta.)
_base_ = [
    'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py',
    './_base_/fasternet_runtime.py'
]
custom_hooks = _base_.fasternet_hooks  # fasternet_mm's run hooks

# The official ImageNet-1K weights; mmengine downloads and caches them. A
# local copy: --cfg-options model.backbone.init_cfg.checkpoint=PATH
pretrained = 'https://github.com/JierunChen/FasterNet/releases/download/v1.0/fasternet_s-epoch.299-val_acc1.81.2840.pth'  # noqa
model = dict(
    backbone=dict(
        _delete_=True,  # drop every ResNet key of the base
        type='FasterNet',
        arch='s',
        # RetinaNet's FPN reads strides 8-32 only: an unused stride-4 output
        # norm would be a parameter without a gradient, which DDP rejects.
        out_indices=(1, 2, 3),
        drop_path_rate=0.15,
        norm_cfg=dict(type='BN', requires_grad=True),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    # [2C, 4C, 8C]: FasterNet(arch='s', out_indices=(1, 2, 3)).out_channels;
    # level 0 is now stride 8, as in MMDetection's Swin / PVT RetinaNets.
    neck=dict(in_channels=[256, 512, 1024], start_level=0))

optim_wrapper = dict(
    optimizer=dict(
        _delete_=True,
        type='AdamW',
        lr=2e-4,
        betas=(0.9, 0.999),
        weight_decay=1e-4))
# `tools/train.py --auto-scale-lr` rescales the lr for other batch sizes.
auto_scale_lr = dict(enable=False, base_batch_size=16)
