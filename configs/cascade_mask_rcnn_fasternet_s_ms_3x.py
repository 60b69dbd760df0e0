# Cascade Mask R-CNN + FPN with a FasterNet-S backbone on COCO, 3x with
# multi-scale training. The paper has no Cascade Mask R-CNN; this config has
# not been trained. The M and L configs inherit this one.
# Recipe: MMDetection's cascade-mask-rcnn_r50_fpn_ms-3x_coco (model; shorter
# side 640-800, flip 0.5; the COCO train set repeated 3 times over 12
# epochs, i.e. 36 epochs, lr steps after 27 and 33; 16 images per batch)
# with the FasterNet paper's detection optimiser (its Mask R-CNN: AdamW,
# lr 2e-4 for S / 1e-4 for M and L, weight decay 1e-4) and drop path
# (0.15 / 0.2 / 0.3) in place of SGD.
_base_ = [
    'mmdet::cascade_rcnn/cascade-mask-rcnn_r50_fpn_ms-3x_coco.py',
    './_base_/fasternet_runtime.py', './_base_/fasternet_weights.py'
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

optim_wrapper = dict(
    optimizer=dict(
        _delete_=True,
        type='AdamW',
        lr=2e-4,
        betas=(0.9, 0.999),
        weight_decay=1e-4))
# The base's shared ms-3x data file evaluates boxes only; report masks too.
val_evaluator = dict(metric=['bbox', 'segm'])
test_evaluator = val_evaluator
