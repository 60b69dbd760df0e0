# Mask R-CNN + FPN with FasterNet-T1 on COCO, 1x. The paper publishes no
# detector for T0-T2: the S recipe (AdamW, lr 2e-4) with less drop path.
_base_ = './mask_rcnn_fasternet_s.py'

model = dict(
    backbone=dict(
        arch='t1',
        drop_path_rate=0.05,
        init_cfg=dict(checkpoint=_base_.fasternet_weights.t1)),
    neck=dict(in_channels=[64, 128, 256, 512]))
