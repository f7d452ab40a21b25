# Ablation: the class embeddings start at random (init='random'; the bank warns) instead
# of from the built-in CLIP's text encoder; the pretrained backbone as in the base config.
_base_ = '../faster-rcnn_r18-slim-crops-pre_fpn_clip-joint-end-to-end_8e_shapes.py'

model = dict(roi_head=dict(bbox_head=dict(contrastive_branch=dict(text_bank=dict(
    init='random')))))
builtin_weights = [{{_base_.shapes_pretrained_r18_slim}}]
