# Mask R-CNN + FPN with FasterNet-T2 on COCO, 1x. The paper publishes no
# detector for T0-T2: the S recipe (AdamW, lr 2e-4) with less drop path.
_base_ = './mask_rcnn_fasternet_s.py'

model = dict(
    backbone=dict(
        arch='t2',
        drop_path_rate=0.1,
        init_cfg=dict(checkpoint=_base_.fasternet_weights.t2)),
    neck=dict(in_channels=[96, 192, 384, 768]))
