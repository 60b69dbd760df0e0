# The segmentation demo: UperNet + FasterNet-T0 trained from scratch on the
# synthetic ADE20K-format set of tools/misc/make_demo_data.py ade20k (128x128
# shape scenes, 4 shape classes + background) in a few minutes on 2 CPU
# cores. Run it with `make demo-seg` (tools/demo/seg_demo.sh).
# Differences from the ADE20K config: the data, 128x128 crops, narrower
# heads, no ImageNet weights, a short schedule with a higher lr.
_base_ = '../upernet_fasternet_t0_ade20k.py'

data_root = 'data/ade20k_demo'
# ade20k_demo_metainfo() of fasternet_mm.demo; the label maps follow
# ADE20K (0 = unlabeled, dropped by reduce_zero_label; 1 = background).
metainfo = dict(
    classes=('background', 'circle', 'square', 'triangle', 'star'),
    palette=[[120, 120, 120], [220, 60, 60], [60, 180, 75], [65, 105, 225],
             [240, 200, 40]])
num_classes = 5
img_size = 128
crop_size = (img_size, img_size)
max_iters = 400

data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    backbone=dict(init_cfg=None),
    decode_head=dict(channels=64, num_classes=num_classes),
    auxiliary_head=dict(channels=32, num_classes=num_classes))

# Colours tell the classes apart, so no PhotoMetricDistortion.
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(
        type='RandomResize',
        scale=crop_size,
        ratio_range=(0.75, 1.5),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=crop_size, keep_ratio=True),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs')
]
dataset = dict(
    type='BaseSegDataset',
    data_root=data_root,
    metainfo=metainfo,
    img_suffix='.jpg',
    seg_map_suffix='.png',
    reduce_zero_label=True)
train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    dataset=dict(**dataset, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=1,
    dataset=dict(**dataset, pipeline=test_pipeline))
test_dataloader = val_dataloader

optim_wrapper = dict(optimizer=dict(lr=2e-3, weight_decay=1e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=50),
    dict(
        type='PolyLR',
        power=1.0,
        eta_min=0.0,
        begin=50,
        end=max_iters,
        by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=max_iters, max_keep_ckpts=1),
    visualization=dict(interval=1))
auto_scale_lr = dict(base_batch_size=8)
randomness = dict(seed=0)
