# Ablation: inference fuses the stock sigmoid class scores with the contrastive class
# probabilities (w = 0.5) instead of skipping the branch.
_base_ = '../yolox_tiny_clip-joint_12e_shapes.py'

model = dict(bbox_head=dict(contrastive_branch=dict(inference='fused', fusion_weight=0.5)))
