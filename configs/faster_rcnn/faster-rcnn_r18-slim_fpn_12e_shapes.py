# Stock Faster R-CNN (FPN) on the built-in shapes dataset: the baseline of the
# main job. It is MMDetection's faster-rcnn_r50_fpn_1x_coco composition with only
# the dataset, the schedule, random initialisation (nothing can be downloaded) and
# a model sized for a 2-core CPU changed: ResNet-18 at half width, a 64-channel
# FPN, fewer proposals. Real VOC / COCO configs keep R50-FPN.
_base_ = [
    'mmdet::_base_/models/faster-rcnn_r50_fpn.py',
    '../_base_/datasets/shapes_coco.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py',
    '../_base_/clip_joint_runtime.py',
]

fpn_channels = 64
model = dict(
    backbone=dict(
        depth=18,
        base_channels=32,
        # Trained from scratch: no frozen stem, BatchNorm statistics learned.
        frozen_stages=-1,
        norm_eval=False,
        init_cfg=None),
    neck=dict(in_channels=[32, 64, 128, 256], out_channels=fpn_channels),
    rpn_head=dict(in_channels=fpn_channels, feat_channels=fpn_channels),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=fpn_channels),
        bbox_head=dict(in_channels=fpn_channels, fc_out_channels=256, num_classes=6)),
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=1000, max_per_img=300),
        rcnn=dict(sampler=dict(num=128))),
    test_cfg=dict(
        rpn=dict(nms_pre=500, max_per_img=100),
        rcnn=dict(max_per_img=50)))

max_epochs = 12
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True,
         milestones=[int(max_epochs * 0.75)], gamma=0.1)
]
optim_wrapper = dict(
    optimizer=dict(lr=0.02),
    # From-scratch training is unstable in its first iterations without it.
    clip_grad=dict(max_norm=35, norm_type=2))
auto_scale_lr = dict(base_batch_size=4)
# A fixed seed makes the main job reproducible: unseeded, two runs of this
# baseline scored 0.554 and 0.519 mAP.
randomness = dict(seed=0)

default_hooks = dict(
    logger=dict(interval=25),
    checkpoint=dict(interval=max_epochs, max_keep_ckpts=2))
log_processor = dict(window_size=25)

# mmclipjoint's runtime safety hooks (configs/_base_/clip_joint_runtime.py).
custom_hooks = _base_.clip_joint_hooks
