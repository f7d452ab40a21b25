# Ablation: a tenth of the branch's gradient reaches the detector's features (the option
# chosen on Faster R-CNN in the robustness study, for the same comparison on this family).
_base_ = '../yolox_tiny_clip-joint_12e_shapes.py'

model = dict(bbox_head=dict(contrastive_branch=dict(feature_grad_scale=0.1)))
