# UperNet + FasterNet-S on ADE20K (512x512, 160k iterations, 8 GPUs x 2).
_base_ = './_base_/upernet_fasternet_ade20k.py'

model = dict(
    backbone=dict(
        arch='s',
        drop_path_rate=0.15,
        init_cfg=dict(checkpoint=_base_.fasternet_weights.s)),
    decode_head=dict(in_channels=[128, 256, 512, 1024]),
    auxiliary_head=dict(in_channels=512))
