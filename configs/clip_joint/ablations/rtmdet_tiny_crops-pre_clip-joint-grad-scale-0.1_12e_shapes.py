# Ablation: a tenth of the branch's gradient reaches the shared classification features
# (feature_grad_scale=0.1); the pretrained-start joint config otherwise.
_base_ = '../rtmdet_tiny_crops-pre_clip-joint_12e_shapes.py'

model = dict(bbox_head=dict(contrastive_branch=dict(feature_grad_scale=0.1)))
