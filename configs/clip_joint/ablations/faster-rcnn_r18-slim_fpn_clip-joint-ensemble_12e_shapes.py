# Ablation: the class embeddings from a prompt ensemble (each class's prompts encoded by
# the built-in CLIP, averaged) instead of the one prompt "a photo of a {class}.": the
# sizes and textures its captions name.
_base_ = '../faster-rcnn_r18-slim_fpn_clip-joint-end-to-end_12e_shapes.py'

model = dict(
    roi_head=dict(
        bbox_head=dict(
            contrastive_branch=dict(
                text_bank=dict(
                    clip=dict(templates=[
                        'a photo of a {}.', 'a photo of a small {}.', 'a photo of a large {}.',
                        'a photo of a plain {}.', 'a photo of a striped {}.'
                    ]))))))
