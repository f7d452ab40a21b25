# Ablation: the branch reads the RoI feature through its own MLP, not the shared fully
# connected layers that box regression reads (contrastive_feature='roi').
_base_ = '../faster-rcnn_r18-slim_fpn_clip-joint-end-to-end_12e_shapes.py'

model = dict(roi_head=dict(bbox_head=dict(contrastive_feature='roi')))
