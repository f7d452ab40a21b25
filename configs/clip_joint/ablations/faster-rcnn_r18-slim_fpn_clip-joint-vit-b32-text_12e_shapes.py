# Ablation: text embeddings from CLIP ViT-B/32 with OpenAI's weights instead of the
# built-in CLIP (needs them: the 'openai' tag downloads them; offline, set clip.pretrained
# to a local open_clip checkpoint file).
_base_ = '../faster-rcnn_r18-slim_fpn_clip-joint-end-to-end_12e_shapes.py'

model = dict(roi_head=dict(bbox_head=dict(contrastive_branch=dict(text_bank=dict(
    clip=dict(model='ViT-B-32', pretrained='openai', templates=['a photo of a {}.']))))))
builtin_weights = []
