# Mask R-CNN + FPN with FasterNet-L on COCO, 1x: the paper's setting
# (box AP 44.0 / mask AP 39.9 on val2017).
_base_ = './mask_rcnn_fasternet_s.py'

model = dict(
    backbone=dict(
        arch='l',
        drop_path_rate=0.3,
        init_cfg=dict(checkpoint=_base_.fasternet_weights.l)),
    neck=dict(in_channels=[192, 384, 768, 1536]))
optim_wrapper = dict(optimizer=dict(lr=1e-4))
