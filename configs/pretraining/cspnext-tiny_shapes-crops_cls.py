# RTMDet-tiny's CSPNeXt (../rtmdet/rtmdet_tiny_12e_shapes.py), pretrained on the
# pretraining split's crops; normalised as RTMDet's preprocessor does (BGR, ImageNet
# mean/std in BGR order). BN here for the detector's SyncBN: the same parameters and
# buffers (MMDetection's runner turns SyncBN into BN off a distributed run).
_base_ = './_base_/shapes-crops_cls.py'

model = dict(
    data_preprocessor=dict(mean=[103.53, 116.28, 123.675], std=[57.375, 57.12, 58.395],
                           to_rgb=False),
    backbone=dict(
        type='mmdet.CSPNeXt', arch='P5', expand_ratio=0.5, deepen_factor=0.167,
        widen_factor=0.375, channel_attention=True, norm_cfg=dict(type='BN'),
        act_cfg=dict(type='SiLU', inplace=True)),
    head=dict(in_channels=384))
# the slowest of the four per iteration (~0.75 s on 2 cores in the Runner): 7 epochs stay
# within 10 min
max_epochs = 7
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=max_epochs, T_max=max_epochs)
]
