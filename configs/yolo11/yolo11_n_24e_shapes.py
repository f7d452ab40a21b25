# Stock YOLO11n on the built-in shapes dataset (one-stage baseline): the recipe of
# ./yolo11_n_8xb16-600e_coco.py (../_base_/yolo11_recipe.py) with the dataset, schedule
# and augmentation changed:
# the shapes dataset's own 160-px pipeline (no Mosaic, so no pipeline switch), 24
# epochs, and AdamW at lr 0.001 with momentum 0.9, which is what Ultralytics itself
# picks for a run this short (optimizer='auto' under 10,000 iterations: lr 0.002 * 5 /
# (4 + classes), and then the biases' warm-up starts at 0); its warm-up
# (YOLOLRScheduleHook), linear decay and EMA stay.
_base_ = [
    'mmdet::_base_/default_runtime.py',
    'mmdet::_base_/datasets/coco_detection.py',  # the loaders, then the shapes data
    '../_base_/yolo11_recipe.py',
    '../_base_/datasets/shapes_parts.py',
    '../_base_/clip_joint_runtime.py',
]

batch_size_per_gpu = 8
model = dict(bbox_head=dict(num_classes=6))

train_dataloader = dict(batch_size=batch_size_per_gpu, num_workers=2, persistent_workers=False,
                        dataset={{_base_.shapes_train_dataset}})
val_dataloader = dict(batch_size=8, num_workers=2, dataset={{_base_.shapes_val_dataset}})
# tools/test.py reports the held-out test split; validation chooses options.
test_dataloader = dict(batch_size=8, num_workers=2, dataset={{_base_.shapes_test_dataset}})
val_evaluator = {{_base_.shapes_evaluator}}
test_evaluator = {{_base_.shapes_test_evaluator}}

max_epochs = 24
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='AdamW', lr=0.001, betas=(0.9, 0.999),
                   weight_decay=5e-4),
    paramwise_cfg=dict(batch_size_per_gpu=batch_size_per_gpu))
custom_hooks = [
    dict(_base_.yolo11_schedule_hook, warmup_bias_lr=0.0),
    _base_.yolo11_ema_hook,
    _base_.yolo11_channels_last_hook,
] + _base_.clip_joint_hooks
default_hooks = dict(
    logger=dict(interval=25),
    checkpoint=dict(interval=max_epochs, max_keep_ckpts=2, save_best=None))
log_processor = dict(window_size=25)
# A fixed seed makes the main job reproducible.
randomness = dict(seed=0)
