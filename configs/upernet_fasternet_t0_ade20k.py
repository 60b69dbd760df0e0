# UperNet + FasterNet-T0 on ADE20K (512x512, 160k iterations, 8 GPUs x 2).
_base_ = './_base_/upernet_fasternet_ade20k.py'

model = dict(
    backbone=dict(
        arch='t0',
        drop_path_rate=0.0,
        init_cfg=dict(checkpoint=_base_.fasternet_weights.t0)),
    decode_head=dict(in_channels=[40, 80, 160, 320]),
    auxiliary_head=dict(in_channels=160))
