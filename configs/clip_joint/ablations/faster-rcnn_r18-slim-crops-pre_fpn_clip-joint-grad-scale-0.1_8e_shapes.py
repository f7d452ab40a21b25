# Ablation: a tenth of the branch's gradient reaches the shared fully connected layers
# (feature_grad_scale=0.1), stock inference; the pretrained-start end-to-end config otherwise.
_base_ = '../faster-rcnn_r18-slim-crops-pre_fpn_clip-joint-end-to-end_8e_shapes.py'

model = dict(roi_head=dict(bbox_head=dict(contrastive_branch=dict(feature_grad_scale=0.1))))
