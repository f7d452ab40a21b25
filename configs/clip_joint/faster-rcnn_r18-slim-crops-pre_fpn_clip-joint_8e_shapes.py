# The method as published on the built-in data, as the main job trains it: the end-to-end
# joint model from the pretrained backbone
# (./faster-rcnn_r18-slim-crops-pre_fpn_clip-joint-end-to-end_8e_shapes.py: text from the
# built-in CLIP, the slim ResNet-18 pretrained on the pretraining split's object crops,
# 8 epochs) with the two settings of ./faster-rcnn_r18-slim_fpn_clip-joint_12e_shapes.py:
# a tenth of the branch's gradient reaches the shared layers, and fused inference.
_base_ = './faster-rcnn_r18-slim-crops-pre_fpn_clip-joint-end-to-end_8e_shapes.py'

model = dict(roi_head=dict(
    bbox_head=dict(contrastive_branch=dict(feature_grad_scale=0.1, inference='fused'))))
