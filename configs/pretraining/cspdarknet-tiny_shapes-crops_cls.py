# YOLOX-tiny's CSPDarknet (../yolox/yolox_tiny_12e_shapes.py), pretrained on the
# pretraining split's crops; YOLOX's preprocessor does not normalise (BGR, 0-255).
_base_ = './_base_/shapes-crops_cls.py'

model = dict(
    data_preprocessor=dict(to_rgb=False),
    backbone=dict(
        type='mmdet.CSPDarknet', deepen_factor=0.33, widen_factor=0.375, out_indices=(2, 3, 4),
        use_depthwise=False, spp_kernal_sizes=(5, 9, 13),
        norm_cfg=dict(type='BN', momentum=0.03, eps=0.001), act_cfg=dict(type='Swish')),
    head=dict(in_channels=384))
# ~0.65 s an iteration on 2 cores in the Runner (9 epochs took 10.1 min): 8 epochs
max_epochs = 8
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=max_epochs, T_max=max_epochs)
]
