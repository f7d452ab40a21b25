# Ablation: the branch's loss weights rise linearly over the first 600 of 1200 iterations.
_base_ = '../faster-rcnn_r18-slim_fpn_clip-joint-end-to-end_12e_shapes.py'

model = dict(roi_head=dict(
    bbox_head=dict(contrastive_branch=dict(loss_warmup_iters=600))))
