# Mask R-CNN + FPN with FasterNet-T0 on COCO, 1x. The paper publishes no
# detector for T0-T2: the S recipe (AdamW, lr 2e-4) with less drop path.
_base_ = './mask_rcnn_fasternet_s.py'

model = dict(
    backbone=dict(
        arch='t0',
        drop_path_rate=0.,
        init_cfg=dict(checkpoint=_base_.fasternet_weights.t0)),
    neck=dict(in_channels=[40, 80, 160, 320]))
