# Ablation: text embeddings initialised by CLIP ViT-B/32 (needs its weights: the
# 'openai' tag downloads them; offline, set clip.pretrained to a local checkpoint).
_base_ = '../faster-rcnn_r18-slim_fpn_clip-joint-end-to-end_12e_shapes.py'

model = dict(roi_head=dict(bbox_head=dict(contrastive_branch=dict(text_bank=dict(init='clip')))))
