# The built-in "shapes" dataset as named pieces (every name starts with `shapes_`, so
# this file can sit beside any stock config in a `_base_` list without clashing).
# shapes_coco.py assembles them for the two-stage configs; the YOLOX / RTMDet shapes
# configs put them in place of their COCO datasets.
custom_imports = dict(imports=['mmclipjoint'], allow_failed_imports=False)

shapes_data_root = 'data/shapes/'
# Generated on first use by tools/train.py / tools/test.py (or tools/generate_dataset.py)
# and reused while these parameters match; see mmclipjoint/datasets/shapes.py.
builtin_dataset = dict(
    root=shapes_data_root,
    image_size=160,
    num_train=400,
    num_val=100,  # where options are compared
    num_test=300,  # held out: what a study reports
    imbalance_ratio=5.0,  # most / least frequent training class (long tail)
    label_noise=0.1,  # fraction of training boxes with a flipped class
    seed=0)
shapes_metainfo = dict(
    classes=('circle', 'square', 'triangle', 'star', 'hexagon', 'cross'),
    palette=[(220, 40, 40), (40, 90, 220), (40, 170, 60), (230, 200, 30),
             (150, 60, 200), (240, 130, 30)])
shapes_image_scale = (160, 160)
# The built-in CLIP (mmclipjoint/pretraining/clip.py), which stands in for CLIP ViT-B/32
# here: the text bank's `clip` field of the joint shapes configs. Its weights file is
# unpacked from pretrained/ on first use by the tools that take a config, when the config
# lists it in `builtin_weights = [shapes_clip_weights]`.
shapes_clip_weights = 'data/pretrained/mmclipjoint-shapes-clip.pt'
shapes_clip = dict(model='mmclipjoint-shapes-clip', pretrained=shapes_clip_weights,
                   templates=['a photo of a {}.'])
# The built-in pretrained backbones (mmclipjoint/pretraining/backbones.py), which stand
# in for ImageNet weights here: each family's backbone classified the pretraining split's
# object crops. The *_crops-pre_* configs load them with
# backbone.init_cfg=dict(type='Pretrained', checkpoint=<file>, prefix='backbone.') and
# list the file in `builtin_weights` (unpacked from pretrained/, or built, on first use).
shapes_pretrained_r18_slim = 'data/pretrained/r18-slim_shapes-crops.pth'
shapes_pretrained_cspdarknet_tiny = 'data/pretrained/cspdarknet-tiny_shapes-crops.pth'
shapes_pretrained_cspnext_tiny = 'data/pretrained/cspnext-tiny_shapes-crops.pth'
shapes_pretrained_yolo11n = 'data/pretrained/yolo11n_shapes-crops.pth'
# The slim ResNet-18 of the Faster R-CNN *_crops-pre_* configs (stock and joint), loaded as
# MMDetection's Faster R-CNN configs load an ImageNet checkpoint: the stem and first stage
# frozen, BatchNorm statistics kept (norm_eval). `model = dict(backbone=<this>)`.
shapes_r18_slim_crops_pre_backbone = dict(
    frozen_stages=1,
    norm_eval=True,
    init_cfg=dict(_delete_=True, type='Pretrained', checkpoint=shapes_pretrained_r18_slim,
                  prefix='backbone.'))

shapes_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=shapes_image_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
shapes_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=shapes_image_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]
# `_delete_`: these replace whatever dataset a stock config had (e.g. YOLOX's
# MultiImageMixDataset) instead of merging into it.
shapes_train_dataset = dict(
    _delete_=True,
    type='CocoDataset',
    data_root=shapes_data_root,
    metainfo=shapes_metainfo,
    ann_file='annotations/instances_train.json',
    data_prefix=dict(img='VOC2007/JPEGImages/'),
    filter_cfg=dict(filter_empty_gt=True, min_size=8),
    pipeline=shapes_train_pipeline)
shapes_val_dataset = dict(
    _delete_=True,
    type='CocoDataset',
    data_root=shapes_data_root,
    metainfo=shapes_metainfo,
    ann_file='annotations/instances_val.json',
    data_prefix=dict(img='VOC2007/JPEGImages/'),
    test_mode=True,
    pipeline=shapes_test_pipeline)
shapes_test_dataset = dict(shapes_val_dataset, ann_file='annotations/instances_test.json')
shapes_evaluator = dict(
    _delete_=True,
    type='CocoMetric',
    ann_file=shapes_data_root + 'annotations/instances_val.json',
    metric='bbox')
shapes_test_evaluator = dict(shapes_evaluator,
                             ann_file=shapes_data_root + 'annotations/instances_test.json')
