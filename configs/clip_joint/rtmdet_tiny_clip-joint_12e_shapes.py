# CLIP-Joint-Detect on rtmdet-tiny for the built-in shapes dataset: differs from
# ../rtmdet/rtmdet_tiny_12e_shapes.py in bbox_head only. As in the two-stage shapes config,
# the class embeddings start random (init='random') because no CLIP weights can be
# downloaded here; set contrastive_branch.text_bank.init='clip' where they can.
_base_ = '../rtmdet/rtmdet_tiny_12e_shapes.py'

model = dict(
    bbox_head=dict(
        type='ContrastiveRTMDetHead',
        contrastive_branch=dict(
            type='GridContrastiveBranch',
            text_bank=dict(
                type='TextEmbeddingBank',
                class_names={{_base_.shapes_metainfo.classes}},
                embed_dims=512,
                init='random',
                clip=dict(model='ViT-B-32', pretrained='openai')),
            loss_contrastive=dict(
                type='InfoNCELoss', loss_weight=1.0, aux_loss_weight=0.5, aux_samples='all'),
            negative_ratio=3.0,
            min_negatives=64,
            inference='stock')))

optim_wrapper = _base_.clip_joint_optim_wrapper
