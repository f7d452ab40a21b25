# The stock ./faster-rcnn_r18-slim_fpn_12e_shapes.py with the slim ResNet-18 pretrained on
# the pretraining split's object crops (docs/pretrained.md), loaded as an ImageNet
# checkpoint is (shapes_r18_slim_crops_pre_backbone, ../_base_/datasets/shapes_parts.py).
_base_ = './faster-rcnn_r18-slim_fpn_12e_shapes.py'

model = dict(backbone={{_base_.shapes_r18_slim_crops_pre_backbone}})

# From the pretrained backbone, 8 epochs (the lr step after 6): the main job's length, so
# that `make demo` trains both models within 20 minutes on 2 cores.
max_epochs = 8
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True,
         milestones=[int(max_epochs * 0.75)], gamma=0.1)
]
default_hooks = dict(checkpoint=dict(interval=max_epochs))

# Unpacked from pretrained/ (or built) by the tools on first use.
builtin_weights = [{{_base_.shapes_pretrained_r18_slim}}]
