# What changes when FasterNet replaces CSPNeXt in one of MMDetection's
# RTMDet recipes, stated once for configs/rtmdet_fasternet_{t0,t1,t2}.py.
# The names are new (fasternet_*), so that this file can sit next to the
# recipe in a config's _base_ list (mmengine refuses a key that two bases
# both define, and the recipe defines model, optim_wrapper and
# param_scheduler); each config applies them in four lines:
#   model = dict(data_preprocessor=_base_.fasternet_data_preprocessor,
#                backbone=dict(_base_.fasternet_backbone, arch=..., ...))
#   optim_wrapper = dict(optimizer=dict(lr=_base_.fasternet_lr))
#   param_scheduler = _base_.fasternet_param_scheduler

# FasterNet's ImageNet weights were trained on RGB images normalised with
# the ImageNet statistics; RTMDet's preprocessor keeps BGR with CSPNeXt's
# statistics. Padding to a multiple of 32 keeps the stride-32 features
# aligned (the pipeline already pads to 640x640; tools/train.py checks it).
fasternet_data_preprocessor = dict(
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_size_divisor=32)

fasternet_backbone = dict(
    _delete_=True,  # drop every CSPNeXt key of the recipe
    type='FasterNet',
    # RTMDet reads strides 8-32 only: an unused stride-4 output norm would
    # be a parameter without a gradient, which DDP rejects.
    out_indices=(1, 2, 3),
    norm_cfg=dict(type='SyncBN', requires_grad=True))

# RTMDet's lr (4e-3 at 8 x 32 images) trains its whole detector, CSPNeXt
# included. For ImageNet-pretrained classification backbones (Swin-B,
# ConvNeXt-B: rtmdet_l_{swin,convnext}_b_4xb32-100e_coco) MMDetection lowers
# it to 1e-3; so do we. It stays one lr for the whole model: a backbone-only
# lr_mult (paramwise_cfg.custom_keys) would override norm_decay_mult=0 and
# put weight decay on the backbone's norms. Not tuned: nobody has trained it.
fasternet_lr = 1e-3
# The recipe's schedule (the same for every RTMDet size) at that lr.
fasternet_param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1.0e-5,
        by_epoch=False,
        begin=0,
        end=1000),
    dict(
        # cosine over the second half (epochs 150-300) to 5% of the lr
        type='CosineAnnealingLR',
        eta_min=fasternet_lr * 0.05,
        begin=150,
        end=300,
        T_max=150,
        by_epoch=True,
        convert_to_iter_based=True),
]
