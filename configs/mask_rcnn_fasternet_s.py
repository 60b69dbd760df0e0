# Mask R-CNN + FPN with a FasterNet-S backbone on COCO, 1x schedule: the
# paper's detection setting (box AP 39.9 / mask AP 36.9 on val2017).
# The other sizes (t0, t1, t2, m, l) inherit this file and change the
# backbone, the FPN input widths and, for M/L, the learning rate.
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    'mmdet::_base_/datasets/coco_instance.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py',
    './_base_/fasternet_runtime.py',
    './_base_/fasternet_weights.py',
]
custom_hooks = _base_.fasternet_hooks  # fasternet_mm's run hooks

model = dict(
    backbone=dict(
        _delete_=True,  # drop every ResNet key of the base
        type='FasterNet',
        arch='s',
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.15,
        norm_cfg=dict(type='BN', requires_grad=True),
        init_cfg=dict(
            type='Pretrained', checkpoint=_base_.fasternet_weights.s)),
    # [C, 2C, 4C, 8C]: FasterNet(arch='s').out_channels
    neck=dict(in_channels=[128, 256, 512, 1024]))

# AdamW, lr 2e-4, weight decay 1e-4 at 16 images per batch (8 GPUs x 2).
optim_wrapper = dict(
    optimizer=dict(
        _delete_=True,
        type='AdamW',
        lr=2e-4,
        betas=(0.9, 0.999),
        weight_decay=1e-4))
# `tools/train.py --auto-scale-lr` rescales the lr for other batch sizes.
auto_scale_lr = dict(enable=False, base_batch_size=16)
