# RetinaNet with FasterNet-T0, trained from scratch on the synthetic
# COCO-format shapes set (tools/misc/make_demo_data.py coco data/coco_demo)
# on CPU. Same detector as ../retinanet_fasternet_s.py with T0, 160x160
# images, a slimmer FPN and head (128 channels, 2 convs) and the short,
# higher-lr schedule of mask_rcnn_fasternet_t0_coco_demo.py.
_base_ = '../retinanet_fasternet_s.py'

data_root = 'data/coco_demo/'
metainfo = dict(
    classes=('circle', 'square', 'triangle', 'star'),
    palette=[(0, 255, 255), (255, 0, 255), (255, 140, 0), (140, 0, 255)])
img_scale = (160, 160)
width = 128

model = dict(
    backbone=dict(arch='t0', drop_path_rate=0., init_cfg=None),
    # FasterNet(arch='t0', out_indices=(1, 2, 3)).out_channels
    neck=dict(in_channels=[80, 160, 320], out_channels=width),
    bbox_head=dict(
        num_classes=4, in_channels=width, feat_channels=width,
        stacked_convs=2))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
train_dataloader = dict(
    batch_size=4,
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        filter_cfg=dict(filter_empty_gt=True, min_size=8),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    dataset=dict(
        data_root=data_root, metainfo=metainfo, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val2017.json')
test_evaluator = val_evaluator

max_epochs = 6
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs,
        eta_min_ratio=0.01,
        begin=0,
        end=max_epochs,
        by_epoch=True,
        convert_to_iter_based=True)
]
optim_wrapper = dict(
    optimizer=dict(lr=2e-3, weight_decay=0.05),
    clip_grad=dict(max_norm=10, norm_type=2))
auto_scale_lr = dict(base_batch_size=4)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
log_processor = dict(window_size=10)
randomness = dict(seed=0)
