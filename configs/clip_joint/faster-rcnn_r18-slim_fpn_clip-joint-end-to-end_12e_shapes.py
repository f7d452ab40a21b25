# CLIP-Joint-Detect as the paper trains it: the contrastive branch's whole gradient
# reaches the detector's shared fully connected layers (end-to-end), and inference scores
# with the stock classifier. The built-in dataset's joint config departs from it in these
# two settings (see its header); the ablations in ./ablations/faster-rcnn_* are changes
# of this one, as the robustness study compared them.
_base_ = './faster-rcnn_r18-slim_fpn_clip-joint_12e_shapes.py'

model = dict(roi_head=dict(
    bbox_head=dict(contrastive_branch=dict(feature_grad_scale=1.0, inference='stock'))))
