# YOLO11n's backbone (../yolo11/yolo11_n_24e_shapes.py), pretrained on the pretraining
# split's crops; normalised as the YOLO11 preprocessor does (RGB, pixels / 255).
_base_ = './_base_/shapes-crops_cls.py'

model = dict(
    data_preprocessor=dict(mean=[0., 0., 0.], std=[255., 255., 255.], to_rgb=True),
    backbone=dict(type='mmdet.YOLO11Backbone', scale='n'),
    head=dict(in_channels=256))
# the fastest of the four per iteration (~0.4 s on 2 cores): 12 epochs within 10 min
max_epochs = 12
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=max_epochs, T_max=max_epochs)
]
