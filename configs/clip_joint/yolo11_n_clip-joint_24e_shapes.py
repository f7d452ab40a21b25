# CLIP-Joint-Detect on YOLO11n for the built-in shapes dataset: differs from
# ../yolo11/yolo11_n_24e_shapes.py in bbox_head only.
# The class embeddings start from the built-in CLIP's text encoder ("a photo of a
# {class}."; _base_/datasets/shapes_parts.py); ./ablations/*-random-text_* start them
# at random.
_base_ = '../yolo11/yolo11_n_24e_shapes.py'

model = dict(
    bbox_head=dict(
        type='ContrastiveYOLOHead',
        contrastive_branch=dict(
            type='GridContrastiveBranch',
            text_bank=dict(
                type='TextEmbeddingBank',
                class_names={{_base_.shapes_metainfo.classes}},
                embed_dims=512,
                init='clip',
                clip={{_base_.shapes_clip}}),
            loss_contrastive=dict(
                type='InfoNCELoss', loss_weight=1.0, aux_loss_weight=0.5, aux_samples='all'),
            negative_ratio=3.0,
            min_negatives=64,
            inference='stock')))

optim_wrapper = _base_.clip_joint_optim_wrapper

# The built-in CLIP's weights file: unpacked from pretrained/ by the tools on first use.
builtin_weights = [{{_base_.shapes_clip_weights}}]
