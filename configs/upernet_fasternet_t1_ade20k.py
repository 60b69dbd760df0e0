# UperNet + FasterNet-T1 on ADE20K (512x512, 160k iterations, 8 GPUs x 2).
_base_ = './_base_/upernet_fasternet_ade20k.py'

model = dict(
    backbone=dict(
        arch='t1',
        drop_path_rate=0.02,
        init_cfg=dict(checkpoint=_base_.fasternet_weights.t1)),
    decode_head=dict(in_channels=[64, 128, 256, 512]),
    auxiliary_head=dict(in_channels=256))
