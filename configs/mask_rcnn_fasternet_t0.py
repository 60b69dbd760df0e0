# Mask R-CNN + FPN with FasterNet-T0 on COCO, 1x. The paper publishes no
# detector for T0-T2: the S recipe (AdamW, lr 2e-4) with less drop path.
_base_ = './mask_rcnn_fasternet_s.py'

pretrained = 'https://github.com/JierunChen/FasterNet/releases/download/v1.0/fasternet_t0-epoch.281-val_acc1.71.9180.pth'  # noqa
model = dict(
    backbone=dict(
        arch='t0', drop_path_rate=0., init_cfg=dict(checkpoint=pretrained)),
    neck=dict(in_channels=[40, 80, 160, 320]))
