# Ablation: one learnable temperature shared by all classes.
_base_ = '../faster-rcnn_r18-slim_fpn_clip-joint-end-to-end_12e_shapes.py'

model = dict(roi_head=dict(
    bbox_head=dict(contrastive_branch=dict(text_bank=dict(temperature=dict(mode='shared'))))))
