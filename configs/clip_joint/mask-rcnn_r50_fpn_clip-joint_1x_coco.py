# CLIP-Joint-Detect on Mask R-CNN R50-FPN, COCO 2017: the stock
# mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py with the contrastive bbox head; the
# stock StandardRoIHead runs it beside the untouched mask head.
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'

custom_imports = dict(imports=['mmclipjoint'], allow_failed_imports=False)

model = dict(
    roi_head=dict(
        bbox_head=dict(
            type='ContrastiveBBoxHead',
            proj_hidden_dims=1024,
            text_bank=dict(
                type='TextEmbeddingBank',
                class_names='coco',
                init='clip',
                clip=dict(model='ViT-B-32', pretrained='openai')),
            loss_contrastive=dict(type='InfoNCELoss', loss_weight=1.0, aux_loss_weight=0.5))))

optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'text_bank': dict(decay_mult=0.0)}))

# mmclipjoint's runtime safety hooks (mmclipjoint/engine/hooks.py).
custom_hooks = [
    dict(type='JointTrainingCheckHook'),  # class names vs dataset; load_from report
    dict(type='LossGuardHook'),  # losses reduced over processes; stop on NaN/inf
    dict(type='RandomStateHook'),  # RNG state in checkpoints: exact resume
]
