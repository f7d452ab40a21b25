# Ablation: InfoNCE on the assigned positive cells only, no auxiliary cross-entropy
# over the background cells.
_base_ = '../rtmdet_tiny_clip-joint_12e_shapes.py'

model = dict(bbox_head=dict(contrastive_branch=dict(loss_contrastive=dict(aux_loss_weight=0.0))))
