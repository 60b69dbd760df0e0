# RTMDet-s (object detection) with a FasterNet-T1 backbone in place of
# CSPNeXt, on COCO. Neither the paper nor MMDetection has it; this config
# has not been trained.
# Recipe: MMDetection's rtmdet_s_8xb32-300e_coco, kept as it is: the model
# (CSPNeXtPAFPN neck, RTMDetSepBNHead, width 128), 300 epochs at 8 GPUs x 32
# images, AdamW with weight decay 0.05 (none on norms and biases), 1000
# warm-up iterations and cosine decay over the second half, Mosaic + MixUp +
# large-scale jitter at 640x640, the last 20 epochs without Mosaic/MixUp
# (PipelineSwitchHook), an EMA of the weights (EMAHook), SyncBN.
# Why s: FasterNet-T1's widths (128, 256, 512) are CSPNeXt-s's, so the neck
# and head stay as they are; T1 costs more than CSPNeXt-s (at 640x640,
# strides 8-32: 5.66M params and 6.96 GFLOPs against 4.38M and 5.42G) and
# less than CSPNeXt-m (12.28M, 15.71G), whose widths it does not have.
# What changes for FasterNet (./_base_/rtmdet_fasternet.py, the same for
# T0-T2): the backbone, the input normalisation (RGB, ImageNet
# statistics), pad_size_divisor=32 and the lr (1e-3, not 4e-3).
_base_ = [
    'mmdet::rtmdet/rtmdet_s_8xb32-300e_coco.py',
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
        arch='t1',
        drop_path_rate=0.05,  # as mask_rcnn_fasternet_t1.py
        init_cfg=dict(
            type='Pretrained', checkpoint=_base_.fasternet_weights.t1)),
    # [2C, 4C, 8C] = FasterNet(arch='t1', out_indices=(1, 2, 3)).out_channels,
    # the widths RTMDet-s's CSPNeXt feeds its neck.
    neck=dict(in_channels=[128, 256, 512]))
optim_wrapper = dict(optimizer=dict(lr=_base_.fasternet_lr))
param_scheduler = _base_.fasternet_param_scheduler
