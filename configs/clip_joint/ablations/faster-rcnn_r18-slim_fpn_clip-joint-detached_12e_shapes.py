# Ablation: the branch learns on detached features (feature_grad_scale=0): the detector
# trains as the stock one, the branch beside it.
_base_ = '../faster-rcnn_r18-slim_fpn_clip-joint-end-to-end_12e_shapes.py'

model = dict(roi_head=dict(
    bbox_head=dict(contrastive_branch=dict(feature_grad_scale=0.0))))
