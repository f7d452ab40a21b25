# CLIP-Joint-Detect on the built-in shapes dataset: the main job's joint model. It is the
# paper's setting (./faster-rcnn_r18-slim_fpn_clip-joint-end-to-end_12e_shapes.py) with
# the two settings the robustness study chose on the validation split
# (studies/options-faster-rcnn, 20% label noise, 3 seeds; README "Does it help"): a
# tenth of the branch's gradient reaches the shared fully connected layers
# (feature_grad_scale=0.1; at 1 the branch cost 8 points of mAP there), and inference
# fuses the stock and contrastive class probabilities.
_base_ = './faster-rcnn_r18-slim_fpn_clip-joint-end-to-end_12e_shapes.py'

model = dict(roi_head=dict(
    bbox_head=dict(contrastive_branch=dict(feature_grad_scale=0.1, inference='fused'))))
