# Ablation: inference fuses the stock and contrastive class probabilities (w = 0.5).
_base_ = '../faster-rcnn_r18-slim_fpn_clip-joint-end-to-end_12e_shapes.py'

model = dict(roi_head=dict(
    bbox_head=dict(contrastive_branch=dict(inference='fused', fusion_weight=0.5))))
