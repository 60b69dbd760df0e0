# Cascade Mask R-CNN + FPN with FasterNet-L on COCO, 3x multi-scale: the S
# config (MMDetection's cascade-mask-rcnn_r50_fpn_ms-3x_coco recipe) with the
# paper's Mask R-CNN settings for L (lr 1e-4, drop path 0.3). Not in the
# paper; not trained.
_base_ = './cascade_mask_rcnn_fasternet_s_ms_3x.py'

model = dict(
    backbone=dict(
        arch='l',
        drop_path_rate=0.3,
        init_cfg=dict(checkpoint=_base_.fasternet_weights.l)),
    neck=dict(in_channels=[192, 384, 768, 1536]))
optim_wrapper = dict(optimizer=dict(lr=1e-4))
