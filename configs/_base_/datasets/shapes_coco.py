# The built-in "shapes" dataset (mmclipjoint.datasets.shapes), read through
# MMDetection's stock CocoDataset and evaluated with its stock CocoMetric.
# tools/train.py and tools/test.py generate it on first use from `builtin_dataset`
# (or: python tools/generate_dataset.py); later runs reuse it while the
# parameters match.
_base_ = 'mmdet::_base_/datasets/coco_detection.py'

custom_imports = dict(imports=['mmclipjoint'], allow_failed_imports=False)

data_root = 'data/shapes/'
builtin_dataset = dict(
    root=data_root,
    image_size=160,
    num_train=400,
    num_val=100,
    imbalance_ratio=5.0,  # most / least frequent training class (long tail)
    label_noise=0.1,  # fraction of training boxes with a flipped class
    seed=0)
metainfo = dict(
    classes=('circle', 'square', 'triangle', 'star', 'hexagon', 'cross'),
    palette=[(220, 40, 40), (40, 90, 220), (40, 170, 60), (230, 200, 30),
             (150, 60, 200), (240, 130, 30)])
image_scale = (160, 160)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=image_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=image_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]
train_dataloader = dict(
    batch_size=4,
    num_workers=2,
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img='VOC2007/JPEGImages/'),
        filter_cfg=dict(filter_empty_gt=True, min_size=8),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4,
    num_workers=2,
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/instances_val.json',
        data_prefix=dict(img='VOC2007/JPEGImages/'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
test_evaluator = val_evaluator
