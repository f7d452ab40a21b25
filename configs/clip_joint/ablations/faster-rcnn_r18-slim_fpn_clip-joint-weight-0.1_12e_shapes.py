# Ablation: InfoNCE and auxiliary CE weights 0.1 (default 1.0 and 0.5).
_base_ = '../faster-rcnn_r18-slim_fpn_clip-joint-end-to-end_12e_shapes.py'

model = dict(roi_head=dict(bbox_head=dict(
    contrastive_branch=dict(loss_contrastive=dict(loss_weight=0.1, aux_loss_weight=0.1)))))
