# Ablation: CLIP initialisation from CLIP's 7-template prompt ensemble, averaged per
# class (needs CLIP weights, as the clip-init ablation).
_base_ = '../faster-rcnn_r18-slim_fpn_clip-joint-end-to-end_12e_shapes.py'

model = dict(
    roi_head=dict(
        bbox_head=dict(
            contrastive_branch=dict(
                text_bank=dict(
                    init='clip',
                    clip=dict(templates=[
                        'itap of a {}.', 'a bad photo of the {}.', 'a origami {}.',
                        'a photo of the large {}.', 'a {} in a video game.',
                        'art of the {}.', 'a photo of the small {}.'
                    ]))))))
