# Ablation: no auxiliary cross-entropy (InfoNCE alone).
_base_ = '../faster-rcnn_r18-slim_fpn_clip-joint-end-to-end_12e_shapes.py'

model = dict(roi_head=dict(
    bbox_head=dict(contrastive_branch=dict(loss_contrastive=dict(aux_loss_weight=0.0)))))
