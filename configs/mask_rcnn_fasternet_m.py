# Mask R-CNN + FPN with FasterNet-M on COCO, 1x: the paper's setting
# (box AP 43.0 / mask AP 39.1 on val2017).
_base_ = './mask_rcnn_fasternet_s.py'

model = dict(
    backbone=dict(
        arch='m',
        drop_path_rate=0.2,
        init_cfg=dict(checkpoint=_base_.fasternet_weights.m)),
    neck=dict(in_channels=[144, 288, 576, 1152]))
optim_wrapper = dict(optimizer=dict(lr=1e-4))
