# The paper's end-to-end setting (./faster-rcnn_r18-slim_fpn_clip-joint-end-to-end_12e_shapes.py:
# the branch's whole gradient reaches the shared layers, stock inference, text from the
# built-in CLIP) with the slim ResNet-18 pretrained on the pretraining split's object crops
# and the 8-epoch schedule, both exactly as in its stock counterpart
# ../faster_rcnn/faster-rcnn_r18-slim-crops-pre_fpn_8e_shapes.py. The study's
# pretrained-start joint model; ./faster-rcnn_r18-slim-crops-pre_fpn_clip-joint_8e_shapes.py
# (the main job's) is this config with two settings changed.
_base_ = './faster-rcnn_r18-slim_fpn_clip-joint-end-to-end_12e_shapes.py'

model = dict(backbone={{_base_.shapes_r18_slim_crops_pre_backbone}})

max_epochs = 8
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True,
         milestones=[int(max_epochs * 0.75)], gamma=0.1)
]
default_hooks = dict(checkpoint=dict(interval=max_epochs))

# Unpacked from pretrained/ (or built) by the tools on first use.
builtin_weights = [{{_base_.shapes_clip_weights}}, {{_base_.shapes_pretrained_r18_slim}}]
