# CLIP-Joint-Detect as the paper trains it, on the built-in shapes dataset: the
# contrastive branch's whole gradient reaches the detector's shared fully connected layers
# (end to end), and inference scores with the stock classifier. It differs from
# ../faster_rcnn/faster-rcnn_r18-slim_fpn_12e_shapes.py (the baseline) in
# roi_head.bbox_head only (and the text bank's weight-decay exemption). The ablations in
# ./ablations/faster-rcnn_* are changes of this config; the built-in default
# ./faster-rcnn_r18-slim_fpn_clip-joint_12e_shapes.py is this config with two settings
# changed.
#
# The class embeddings start from the built-in CLIP's text encoder ("a photo of a
# {class}."), the stand-in for CLIP ViT-B/32 (_base_/datasets/shapes_parts.py);
# ./ablations/*-random-text_* start them at random, *-vit-b32-text_* from ViT-B/32.
_base_ = '../faster_rcnn/faster-rcnn_r18-slim_fpn_12e_shapes.py'

model = dict(
    roi_head=dict(
        bbox_head=dict(
            type='ContrastiveBBoxHead',
            contrastive_branch=dict(
                type='RegionContrastiveBranch',
                hidden_channels=256,
                text_bank=dict(
                    type='TextEmbeddingBank',
                    class_names={{_base_.metainfo.classes}},
                    embed_dims=512,
                    init='clip',
                    clip={{_base_.shapes_clip}},
                    learnable=True,
                    temperature=dict(mode='per_class', init=0.07, max_logit_scale=100.0),
                    background=True),
                loss_contrastive=dict(
                    type='InfoNCELoss', loss_weight=1.0, aux_loss_weight=0.5,
                    aux_samples='all'),
                feature_grad_scale=1.0,
                inference='stock',
                fusion_weight=0.5))))

optim_wrapper = _base_.clip_joint_optim_wrapper

# The built-in CLIP's weights file: unpacked from pretrained/ by the tools on first use.
builtin_weights = [{{_base_.shapes_clip_weights}}]
