# The slim ResNet-18 of the Faster R-CNN shapes configs
# (../faster_rcnn/faster-rcnn_r18-slim_fpn_12e_shapes.py), pretrained on the pretraining
# split's crops; normalised as MMDetection's Faster R-CNN preprocessor does (RGB,
# ImageNet mean/std).
_base_ = './_base_/shapes-crops_cls.py'

model = dict(
    data_preprocessor=dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                           to_rgb=True),
    backbone=dict(
        type='mmdet.ResNet', depth=18, base_channels=32, num_stages=4, out_indices=(0, 1, 2, 3),
        frozen_stages=-1, norm_cfg=dict(type='BN', requires_grad=True), norm_eval=False,
        style='pytorch'),
    head=dict(in_channels=256))
# ~0.55 s an iteration on 2 cores in the Runner (10 epochs took 9.96 min, too close to
# the 10-minute budget): 9 epochs
max_epochs = 9
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=max_epochs, T_max=max_epochs)
]
