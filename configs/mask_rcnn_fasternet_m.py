# Mask R-CNN + FPN with FasterNet-M on COCO, 1x: the paper's setting
# (box AP 43.0 / mask AP 39.1 on val2017).
_base_ = './mask_rcnn_fasternet_s.py'

pretrained = 'https://github.com/JierunChen/FasterNet/releases/download/v1.0/fasternet_m-epoch.291-val_acc1.82.9620.pth'  # noqa
model = dict(
    backbone=dict(
        arch='m', drop_path_rate=0.2, init_cfg=dict(checkpoint=pretrained)),
    neck=dict(in_channels=[144, 288, 576, 1152]))
optim_wrapper = dict(optimizer=dict(lr=1e-4))
