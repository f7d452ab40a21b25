# Ablation: the class embeddings start at random (init='random'; the bank warns) instead
# of from the built-in CLIP's text encoder.
_base_ = '../faster-rcnn_r18-slim_fpn_clip-joint-end-to-end_12e_shapes.py'

model = dict(roi_head=dict(bbox_head=dict(contrastive_branch=dict(text_bank=dict(
    init='random')))))
builtin_weights = []
