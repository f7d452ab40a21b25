# Ablation: the class embeddings start at random (init='random'; the bank warns) instead
# of from the built-in CLIP's text encoder.
_base_ = '../yolo11_n_clip-joint_24e_shapes.py'

model = dict(bbox_head=dict(contrastive_branch=dict(text_bank=dict(init='random'))))
builtin_weights = []
