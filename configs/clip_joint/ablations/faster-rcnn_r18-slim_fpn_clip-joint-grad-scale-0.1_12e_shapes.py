# Ablation: a tenth of the branch's gradient reaches the detector's features.
_base_ = '../faster-rcnn_r18-slim_fpn_clip-joint-end-to-end_12e_shapes.py'

model = dict(roi_head=dict(
    bbox_head=dict(contrastive_branch=dict(feature_grad_scale=0.1))))
