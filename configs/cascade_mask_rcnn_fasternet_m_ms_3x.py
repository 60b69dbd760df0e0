# Cascade Mask R-CNN + FPN with FasterNet-M on COCO, 3x multi-scale: the S
# config (MMDetection's cascade-mask-rcnn_r50_fpn_ms-3x_coco recipe) with the
# paper's Mask R-CNN settings for M (lr 1e-4, drop path 0.2). Not in the
# paper; not trained.
_base_ = './cascade_mask_rcnn_fasternet_s_ms_3x.py'

model = dict(
    backbone=dict(
        arch='m',
        drop_path_rate=0.2,
        init_cfg=dict(checkpoint=_base_.fasternet_weights.m)),
    neck=dict(in_channels=[144, 288, 576, 1152]))
optim_wrapper = dict(optimizer=dict(lr=1e-4))
