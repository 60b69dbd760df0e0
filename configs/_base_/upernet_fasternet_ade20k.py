# UperNet with a FasterNet backbone on ADE20K: 512x512 crops, 160k
# iterations, 16 images per batch (8 GPUs x 2). The variant configs
# (../upernet_fasternet_{t0,t1,t2,s,m,l}_ade20k.py) set the arch, the heads'
# in_channels, the drop path rate and the ImageNet checkpoint; this file is S.
_base_ = [
    'mmseg::_base_/models/upernet_r50.py',
    'mmseg::_base_/datasets/ade20k.py',
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_160k.py',
    './fasternet_runtime.py',
    './fasternet_weights.py',
]
custom_hooks = _base_.fasternet_hooks  # fasternet_mm's run hooks

crop_size = (512, 512)
# Training batches are padded to the crop; test images to a multiple of 32
# (FasterNet's 4x4 stem and 2x2 merging layers floor odd sizes). The padding
# is cut off the predictions again.
data_preprocessor = dict(size=crop_size, test_cfg=dict(size_divisor=32))
# SyncBN for multi-GPU runs; mmengine's Runner turns it into BN in
# non-distributed (e.g. single-process CPU) runs.
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    data_preprocessor=data_preprocessor,
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type='FasterNet',
        arch='s',
        out_indices=(0, 1, 2, 3),
        norm_cfg=norm_cfg,
        # The paper's dense-prediction (Mask R-CNN) rates: S 0.15, M 0.2,
        # L 0.3; T0-T2 keep their ImageNet rates (0, 0.02, 0.05).
        drop_path_rate=0.15,
        # The official ImageNet-1K weights, downloaded and cached by mmengine
        # (a local copy: --cfg-options model.backbone.init_cfg.checkpoint=...)
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://github.com/JierunChen/FasterNet/releases/'
            'download/v1.0/fasternet_s-epoch.299-val_acc1.81.2840.pth')),
    # Stage widths C, 2C, 4C, 8C; the auxiliary head reads stage 3 (4C).
    decode_head=dict(
        in_channels=[128, 256, 512, 1024], norm_cfg=norm_cfg, num_classes=150),
    auxiliary_head=dict(in_channels=512, norm_cfg=norm_cfg, num_classes=150),
    test_cfg=dict(mode='whole'))

# AdamW as in the paper's dense-prediction recipe (its Mask R-CNN: lr 2e-4
# for S and below, 1e-4 for M and L, weight decay 1e-4, betas 0.9/0.999),
# with the warm-up and schedule of MMSegmentation's UperNet configs for
# ImageNet-pretrained backbones of this size (Swin-T, ConvNeXt-T: 1500
# linear warm-up iterations, then poly decay with power 1 over 160k).
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=2e-4, betas=(0.9, 0.999), weight_decay=1e-4),
    clip_grad=None)
param_scheduler = [
    dict(
        type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(
        type='PolyLR',
        power=1.0,
        eta_min=0.0,
        begin=1500,
        end=160000,
        by_epoch=False)
]

# 8 GPUs x 2 images; --auto-scale-lr adapts the lr to other batch sizes.
train_dataloader = dict(batch_size=2)
val_dataloader = dict(batch_size=1)
test_dataloader = val_dataloader
auto_scale_lr = dict(enable=False, base_batch_size=16)
