# UperNet + FasterNet-T2 on ADE20K (512x512, 160k iterations, 8 GPUs x 2).
_base_ = './_base_/upernet_fasternet_ade20k.py'

model = dict(
    backbone=dict(
        arch='t2',
        drop_path_rate=0.05,
        init_cfg=dict(checkpoint=_base_.fasternet_weights.t2)),
    decode_head=dict(in_channels=[96, 192, 384, 768]),
    auxiliary_head=dict(in_channels=384))
