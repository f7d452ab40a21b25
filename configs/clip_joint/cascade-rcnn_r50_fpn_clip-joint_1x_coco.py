# CLIP-Joint-Detect on Cascade R-CNN R50-FPN, COCO 2017: every stage's
# Shared2FCBBoxHead becomes a ContrastiveBBoxHead (each stage with its own branch and
# bank, trained on that stage's RoIs and labels); the stock CascadeRoIHead runs them.
_base_ = ['mmdet::cascade_rcnn/cascade-rcnn_r50_fpn_1x_coco.py',
          '../_base_/clip_joint_runtime.py']

custom_imports = dict(imports=['mmclipjoint'], allow_failed_imports=False)

model = dict(
    roi_head=dict(bbox_head=[
        dict(
            type='ContrastiveBBoxHead',
            in_channels=256,
            fc_out_channels=1024,
            roi_feat_size=7,
            num_classes=80,
            bbox_coder=dict(
                type='DeltaXYWHBBoxCoder',
                target_means=[0., 0., 0., 0.],
                target_stds=stage_stds),
            reg_class_agnostic=True,
            loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
            loss_bbox=dict(type='SmoothL1Loss', beta=1.0, loss_weight=1.0),
            contrastive_branch=dict(
                type='RegionContrastiveBranch',
                hidden_channels=1024,
                text_bank=dict(
                    type='TextEmbeddingBank',
                    class_names='coco',
                    init='clip',
                    clip=dict(model='ViT-B-32', pretrained='openai')),
                loss_contrastive=dict(
                    type='InfoNCELoss', loss_weight=1.0, aux_loss_weight=0.5)))
        # The stock cascade's per-stage regression target scales.
        for stage_stds in ([0.1, 0.1, 0.2, 0.2], [0.05, 0.05, 0.1, 0.1],
                           [0.033, 0.033, 0.067, 0.067])
    ]))

optim_wrapper = _base_.clip_joint_optim_wrapper
custom_hooks = _base_.clip_joint_hooks
