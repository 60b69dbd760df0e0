# RTMDet-tiny (object detection) with a FasterNet-T0 backbone in place of
# CSPNeXt, on COCO. Neither the paper nor MMDetection has it; this config
# has not been trained.
# Recipe: MMDetection's rtmdet_tiny_8xb32-300e_coco, kept as it is: the
# model (CSPNeXtPAFPN neck, RTMDetSepBNHead, width 96), 300 epochs at 8 GPUs
# x 32 images, AdamW with weight decay 0.05 (none on norms and biases), 1000
# warm-up iterations and cosine decay over the second half, Mosaic + MixUp
# (tiny's: MixUp on half the images) + large-scale jitter at 640x640, the
# last 20 epochs without Mosaic/MixUp (PipelineSwitchHook), an EMA of the
# weights (EMAHook), SyncBN.
# Why tiny: FasterNet-T0 costs what CSPNeXt-tiny does (at 640x640, strides
# 8-32: 2.22M params and 2.75 GFLOPs against 2.35M and 2.76G), and its
# widths (80, 160, 320) are the closest to tiny's (96, 192, 384); the neck
# takes T0's widths, so its CSP layers are 5/6 as wide as tiny's.
# What changes for FasterNet (./_base_/rtmdet_fasternet.py, the same for
# T0-T2): the backbone, the input normalisation (RGB, ImageNet
# statistics), pad_size_divisor=32 and the lr (1e-3, not 4e-3).
_base_ = [
    'mmdet::rtmdet/rtmdet_tiny_8xb32-300e_coco.py',
    './_base_/fasternet_runtime.py',
    './_base_/fasternet_weights.py',
    './_base_/rtmdet_fasternet.py',
]
# The recipe's hooks (EMA, pipeline switch), then fasternet_mm's.
custom_hooks = [*_base_.custom_hooks, *_base_.fasternet_hooks]

model = dict(
    data_preprocessor=_base_.fasternet_data_preprocessor,
    backbone=dict(
        _base_.fasternet_backbone,
        arch='t0',
        drop_path_rate=0.,  # as mask_rcnn_fasternet_t0.py
        init_cfg=dict(
            type='Pretrained', checkpoint=_base_.fasternet_weights.t0)),
    # [2C, 4C, 8C] = FasterNet(arch='t0', out_indices=(1, 2, 3)).out_channels
    neck=dict(in_channels=[80, 160, 320]))
optim_wrapper = dict(optimizer=dict(lr=_base_.fasternet_lr))
param_scheduler = _base_.fasternet_param_scheduler
