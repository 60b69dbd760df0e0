# RTMDet-m (object detection) with a FasterNet-T2 backbone in place of
# CSPNeXt, on COCO. Neither the paper nor MMDetection has it; this config
# has not been trained.
# Recipe: MMDetection's rtmdet_m_8xb32-300e_coco, kept as it is: the model
# (CSPNeXtPAFPN neck, RTMDetSepBNHead, width 192), 300 epochs at 8 GPUs x 32
# images, AdamW with weight decay 0.05 (none on norms and biases), 1000
# warm-up iterations and cosine decay over the second half, Mosaic + MixUp +
# large-scale jitter at 640x640, the last 20 epochs without Mosaic/MixUp
# (PipelineSwitchHook), an EMA of the weights (EMAHook), SyncBN.
# Why m: FasterNet-T2's widths (192, 384, 768) are CSPNeXt-m's, so the neck
# and head stay as they are, and it costs what CSPNeXt-m does (at 640x640,
# strides 8-32: 12.72M params and 15.58 GFLOPs against 12.28M and 15.71G).
# What changes for FasterNet (./_base_/rtmdet_fasternet.py, the same for
# T0-T2): the backbone, the input normalisation (RGB, ImageNet
# statistics), pad_size_divisor=32 and the lr (1e-3, not 4e-3).
_base_ = [
    'mmdet::rtmdet/rtmdet_m_8xb32-300e_coco.py',
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
        arch='t2',
        drop_path_rate=0.1,  # as mask_rcnn_fasternet_t2.py
        init_cfg=dict(
            type='Pretrained', checkpoint=_base_.fasternet_weights.t2)),
    # [2C, 4C, 8C] = FasterNet(arch='t2', out_indices=(1, 2, 3)).out_channels,
    # the widths RTMDet-m's CSPNeXt feeds its neck.
    neck=dict(in_channels=[192, 384, 768]))
optim_wrapper = dict(optimizer=dict(lr=_base_.fasternet_lr))
param_scheduler = _base_.fasternet_param_scheduler
