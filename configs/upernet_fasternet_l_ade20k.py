# UperNet + FasterNet-L on ADE20K (512x512, 160k iterations, 8 GPUs x 2).
_base_ = './_base_/upernet_fasternet_ade20k.py'

model = dict(
    backbone=dict(
        arch='l',
        drop_path_rate=0.3,
        init_cfg=dict(checkpoint=_base_.fasternet_weights.l)),
    decode_head=dict(in_channels=[192, 384, 768, 1536]),
    auxiliary_head=dict(in_channels=768))
# The paper halves the lr for M and L (its Mask R-CNN: 1e-4 vs 2e-4).
optim_wrapper = dict(optimizer=dict(lr=1e-4))
