# RTMDet-Ins-m (instance segmentation) with a FasterNet-T2 backbone in
# place of CSPNeXt, on COCO. Neither the paper nor MMDetection has it; this
# config has not been trained.
# Recipe: MMDetection's rtmdet-ins_m_8xb32-300e_coco, kept as it is: the
# model (CSPNeXtPAFPN neck, RTMDetInsSepBNHead), 300 epochs at 8 GPUs x 32
# images, AdamW with weight decay 0.05 (none on norms and biases), 1000
# warm-up iterations and cosine decay over the second half, Mosaic + MixUp +
# large-scale jitter at 640x640, the last 20 epochs without Mosaic/MixUp
# (PipelineSwitchHook), an EMA of the weights (EMAHook), SyncBN.
# What changes for FasterNet: the backbone, the input normalisation (RGB,
# ImageNet statistics), pad_size_divisor=32 and the lr (1e-3, not 4e-3).
_base_ = [
    'mmdet::rtmdet/rtmdet-ins_m_8xb32-300e_coco.py',
    './_base_/fasternet_runtime.py', './_base_/fasternet_weights.py'
]
# The recipe's hooks (EMA, pipeline switch), then fasternet_mm's.
custom_hooks = [*_base_.custom_hooks, *_base_.fasternet_hooks]

model = dict(
    # FasterNet's ImageNet weights were trained on RGB images normalised with
    # the ImageNet statistics; RTMDet's preprocessor keeps BGR with CSPNeXt's
    # statistics. Padding to a multiple of 32 keeps the stride-32 features
    # aligned (the pipeline already pads to 640x640; tools/train.py checks it).
    data_preprocessor=dict(
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_size_divisor=32),
    backbone=dict(
        _delete_=True,  # drop every CSPNeXt key of the base
        type='FasterNet',
        arch='t2',
        # RTMDet reads strides 8-32 only: an unused stride-4 output norm
        # would be a parameter without a gradient, which DDP rejects.
        out_indices=(1, 2, 3),
        drop_path_rate=0.1,  # as mask_rcnn_fasternet_t2.py
        norm_cfg=dict(type='SyncBN', requires_grad=True),
        init_cfg=dict(
            type='Pretrained', checkpoint=_base_.fasternet_weights.t2)),
    # [2C, 4C, 8C] = FasterNet(arch='t2', out_indices=(1, 2, 3)).out_channels,
    # the widths RTMDet-Ins-m's CSPNeXt feeds its neck.
    neck=dict(in_channels=[192, 384, 768]))

# RTMDet's lr (4e-3 at 8 x 32 images) trains its whole detector, CSPNeXt
# included. For ImageNet-pretrained classification backbones (Swin-B,
# ConvNeXt-B: rtmdet_l_{swin,convnext}_b_4xb32-100e_coco) MMDetection lowers
# it to 1e-3; so do we. It stays one lr for the whole model: a backbone-only
# lr_mult (paramwise_cfg.custom_keys) would override norm_decay_mult=0 and
# put weight decay on the backbone's norms. Not tuned: nobody has trained it.
base_lr = 1e-3
optim_wrapper = dict(optimizer=dict(lr=base_lr))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1.0e-5,
        by_epoch=False,
        begin=0,
        end=1000),
    dict(
        # cosine over the second half (epochs 150-300) to 5% of the lr
        type='CosineAnnealingLR',
        eta_min=base_lr * 0.05,
        begin=150,
        end=300,
        T_max=150,
        by_epoch=True,
        convert_to_iter_based=True),
]
