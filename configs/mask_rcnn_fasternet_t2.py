# Mask R-CNN + FPN with FasterNet-T2 on COCO, 1x. The paper publishes no
# detector for T0-T2: the S recipe (AdamW, lr 2e-4) with less drop path.
_base_ = './mask_rcnn_fasternet_s.py'

pretrained = 'https://github.com/JierunChen/FasterNet/releases/download/v1.0/fasternet_t2-epoch.289-val_acc1.78.8860.pth'  # noqa
model = dict(
    backbone=dict(
        arch='t2', drop_path_rate=0.1, init_cfg=dict(checkpoint=pretrained)),
    neck=dict(in_channels=[96, 192, 384, 768]))
