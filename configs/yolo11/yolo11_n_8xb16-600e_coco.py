# YOLO11n on COCO 2017 with Ultralytics' recipe, in MMDetection. The model equals
# Ultralytics' YOLO11n (tests/models/test_yolo11.py); fine-tune from its COCO weights
# with tools/convert_ultralytics_yolo.py and load_from.
#
# The recipe (ultralytics/cfg/default.yaml with optimizer=SGD): 640 px; SGD lr 0.01,
# momentum 0.937, Nesterov, weight decay 5e-4 per 64 images (scaled with the batch,
# here 8 GPUs x 16 = 128 -> 1e-3), no decay on norms and biases, gradient norm clipped at
# 10; 3 warm-up epochs (biases from lr 0.1, momentum from 0.8), then a linear decay to
# lr x 0.01 (YOLOLRScheduleHook); EMA; Mosaic (from a cache of recent images, as
# Ultralytics' buffer), random affine (translate 0.1, scale 0.5-1.5), HSV, horizontal
# flip, Mosaic switched off for the last 10 epochs; test score 0.001, NMS IoU 0.7, 300
# detections, every class of a prior (multi-label).
# Known differences: padding is bottom-right (Ultralytics centres the letterbox), the
# HSV jitter is mmdet's YOLOX one, and Ultralytics' per-scale augmentation tweaks for
# s / m / l / x (mixup, copy-paste, stronger scale) are not applied. 600 epochs is
# what public YOLO11 reproductions use (ultralytics/ultralytics#17165).
_base_ = [
    'mmdet::_base_/default_runtime.py', 'mmdet::_base_/datasets/coco_detection.py',
    '../_base_/yolo11_recipe.py'
]
custom_imports = dict(imports=['mmclipjoint'], allow_failed_imports=False)

img_scale = (640, 640)
max_epochs = 600
close_mosaic_epochs = 10
batch_size_per_gpu = 16

affine = dict(
    type='RandomAffine', max_rotate_degree=0.0, max_shear_degree=0.0,
    max_translate_ratio=0.1, scaling_ratio_range=(0.5, 1.5),
    border_val=(114, 114, 114))
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='CachedMosaic', img_scale=img_scale, pad_val=114.0, max_cached_images=128),
    dict(affine, border=(-img_scale[0] // 2, -img_scale[1] // 2)),
    dict(type='YOLOXHSVRandomAug'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1, 1), keep_empty=False),
    dict(type='PackDetInputs')
]
# The last epochs, without Mosaic (Ultralytics' close_mosaic).
train_pipeline_stage2 = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='Pad', size=img_scale, pad_val=dict(img=(114, 114, 114))),
    affine,
    dict(type='YOLOXHSVRandomAug'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1, 1), keep_empty=False),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='Pad', size=img_scale, pad_val=dict(img=(114, 114, 114))),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]
train_dataloader = dict(
    batch_size=batch_size_per_gpu, num_workers=8, persistent_workers=True,
    dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=16, num_workers=4, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=10,
                 dynamic_intervals=[(max_epochs - close_mosaic_epochs, 1)])
custom_hooks = [
    _base_.yolo11_schedule_hook,
    _base_.yolo11_ema_hook,
    _base_.yolo11_channels_last_hook,
    dict(type='PipelineSwitchHook', switch_epoch=max_epochs - close_mosaic_epochs,
         switch_pipeline=train_pipeline_stage2),
]
default_hooks = dict(checkpoint=dict(interval=10, max_keep_ckpts=3, save_best='auto'))
auto_scale_lr = dict(enable=False, base_batch_size=128)
