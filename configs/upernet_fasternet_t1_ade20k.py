# UperNet + FasterNet-T1 on ADE20K (512x512, 160k iterations, 8 GPUs x 2).
_base_ = './_base_/upernet_fasternet_ade20k.py'

checkpoint_file = 'https://github.com/JierunChen/FasterNet/releases/download/v1.0/fasternet_t1-epoch.291-val_acc1.76.2180.pth'  # noqa
model = dict(
    backbone=dict(
        arch='t1',
        drop_path_rate=0.02,
        init_cfg=dict(checkpoint=checkpoint_file)),
    decode_head=dict(in_channels=[64, 128, 256, 512]),
    auxiliary_head=dict(in_channels=256))
