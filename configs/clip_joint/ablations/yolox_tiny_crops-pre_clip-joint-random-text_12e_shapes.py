# Ablation: the class embeddings start at random (init='random'; the bank warns) instead
# of from the built-in CLIP's text encoder; the pretrained backbone as in the base config.
_base_ = '../yolox_tiny_crops-pre_clip-joint_12e_shapes.py'

model = dict(bbox_head=dict(contrastive_branch=dict(text_bank=dict(init='random'))))
builtin_weights = [{{_base_.shapes_pretrained_cspdarknet_tiny}}]
