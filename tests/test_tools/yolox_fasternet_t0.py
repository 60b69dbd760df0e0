# A YOLOX-style FasterNet-T0 detector on the generated demo set: mmdet's
# YOLOX-S recipe (MultiImageMixDataset with Mosaic, RandomAffine and MixUp,
# which YOLOXModeSwitchHook switches off for the last epoch: its switch
# comes at epoch max_epochs - num_last_epochs) at 64x64, 2
# epochs; MixProbeHook (mix_probe.py) counts the mixing per epoch.
_base_ = [
    'mmdet::yolox/yolox_s_8xb8-300e_coco.py',
    '../../configs/_base_/fasternet_runtime.py'
]
custom_imports = dict(
    imports=['fasternet_mm.runtime', 'mix_probe'], allow_failed_imports=False)
img_scale = (64, 64)
metainfo = dict(classes=('circle', 'square', 'triangle', 'star'))
model = dict(
    data_preprocessor=dict(batch_augments=None),
    backbone=dict(
        _delete_=True, type='FasterNet', arch='t0', out_indices=(1, 2, 3)),
    neck=dict(in_channels=[80, 160, 320], out_channels=32),
    bbox_head=dict(num_classes=4, in_channels=32, feat_channels=32))
train_pipeline = [
    dict(type='Mosaic', img_scale=img_scale, pad_val=114.0),
    dict(
        type='RandomAffine',
        scaling_ratio_range=(0.5, 1.5),
        border=(-img_scale[0] // 2, -img_scale[1] // 2)),
    dict(type='MixUp', img_scale=img_scale, pad_val=114.0),
    dict(type='YOLOXHSVRandomAug'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='Pad', pad_to_square=True, pad_val=dict(img=(114., ) * 3)),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1, 1), keep_empty=True),
    dict(type='PackDetInputs')
]
train_dataloader = dict(
    batch_size=2,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        dataset=dict(
            data_root='data/coco_demo/',
            metainfo=metainfo,
            filter_cfg=dict(filter_empty_gt=True, min_size=8)),
        pipeline=train_pipeline))
train_cfg = dict(max_epochs=2, val_interval=10)
val_dataloader = None
val_evaluator = None
val_cfg = None
test_dataloader = None
test_evaluator = None
test_cfg = None
param_scheduler = []
default_hooks = dict(checkpoint=dict(interval=10), logger=dict(interval=1))
custom_hooks = [
    dict(type='YOLOXModeSwitchHook', num_last_epochs=0, priority=48),
    dict(type='MixProbeHook'), *_base_.fasternet_hooks
]
